"""``fleet survey``: add, list, show and diff versions; keygen; push, rollback, status.

Each command parses its options and calls one function of ``fleet.surveys``; errors a person
can fix say what is wrong and how to fix it, and exit with status 2 with nothing changed.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import click

from fleet.cli import fail, load_settings, open_store, settings_options


@click.group("survey")
def survey() -> None:
    """Survey versions, signing, and rollouts to kiosks (docs/surveys.md)."""


# --- versions ------------------------------------------------------------------------------------


@survey.command("add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@settings_options
def add(file, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Check FILE by the kiosk's own rules and store it as an immutable version."""
    from fleet.surveys import versions

    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url), create=True):
        try:
            added = versions.add(file)
        except versions.VersionError as exc:
            fail(str(exc))
    row = added.version
    if added.new:
        click.echo(f"added survey {row.survey_id} version {row.version} ({len(row.document.encode()):,} bytes, sha256 {row.sha256[:12]})")
    else:
        click.echo(f"survey {row.survey_id} version {row.version} is already stored with this very content: nothing to do")


@survey.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@settings_options
def list_versions(fmt, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Every stored survey version."""
    from fleet.surveys import versions

    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
        rows = [versions.describe(row) for row in versions.all_versions()]
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("survey", "version", "added (UTC)", "questions", "languages", "bytes", "sha256"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["survey_id"], str(row["version"]), row["added"], str(row["questions"]), ",".join(row["languages"]), f"{row['bytes']:,}", row["sha256"][:12])
    Console(width=200).print(table)
    click.echo(f"{len(rows)} version(s)")


@survey.command("show")
@click.argument("survey_id")
@click.option("--version", type=int, help="Which version (default: the newest).")
@settings_options
def show(survey_id, version, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """A stored version's document as indented JSON (what kiosks receive, keys sorted)."""
    from fleet.surveys import versions

    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
        try:
            row = versions.get(survey_id, version)
        except versions.VersionError as exc:
            fail(str(exc))
    click.echo(versions.pretty(row.document), nl=False)


@survey.command("diff")
@click.argument("survey_id")
@click.argument("a", type=int)
@click.argument("b", type=int)
@settings_options
def diff(survey_id, a, b, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """What changed from version A to version B (a unified diff of their JSON)."""
    from fleet.surveys import versions

    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
        try:
            text = versions.diff(survey_id, a, b)
        except versions.VersionError as exc:
            fail(str(exc))
    click.echo(text if text else f"survey {survey_id} versions {a} and {b} are the same", nl=not text)


# --- keys ----------------------------------------------------------------------------------------


@survey.command("keygen")
@click.option("--passphrase", "with_passphrase", is_flag=True, help="Encrypt the key with a passphrase (from $NABIZ_SURVEY_KEY_PASSPHRASE, else asked twice).")
@click.option("--rotate", is_flag=True, help="Replace the current key; its public key stays trusted (survey-trusted-keys.txt) until you remove it.")
@settings_options
def keygen(with_passphrase, rotate, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Make head office's Ed25519 signing key (mode 0600 in the data directory); print its public key."""
    import os

    from fleet.surveys import keys

    config = load_settings(config_path, data_dir=data_dir, db_url=db_url)
    passphrase = None
    if with_passphrase:
        passphrase = os.environ.get(keys.PASSPHRASE_ENV) or click.prompt("passphrase for the signing key", hide_input=True, confirmation_prompt=True, err=True)
    try:
        key = keys.generate(config.data_dir, passphrase, rotate=rotate)
    except keys.SigningKeyError as exc:
        fail(str(exc))
    click.echo(f"signing key {key.key_id}: {keys.key_path(config.data_dir)} (mode 0600{', passphrase' if passphrase else ''}; keep a backup offline)", err=True)
    click.echo(key.public_text)
    click.echo("kiosks trust it through their config: `fleet device add` writes [survey] trusted_keys (`fleet survey keys` lists them)", err=True)


@survey.command("keys")
@settings_options
def trusted_keys(config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """The public keys kiosks trust: the current one first, then the rotated-out ones."""
    from fleet.surveys import keys

    config = load_settings(config_path, data_dir=data_dir, db_url=db_url)
    try:
        texts = keys.trusted(config.data_dir)
    except keys.SigningKeyError as exc:
        fail(str(exc))
    if not texts:
        fail("no signing key yet\n  fix: `fleet survey keygen`")
    for text in texts:
        click.echo(text)


def kiosk_trusted_keys(data_dir: Path) -> list[str]:
    """The public keys a new kiosk config lists (none yet: a warning, the config has no [survey] table)."""
    from fleet.surveys import keys

    try:
        texts = keys.trusted(data_dir)
    except keys.SigningKeyError as exc:
        fail(str(exc))
    if not texts:
        click.echo("note: no survey signing key yet, so this kiosk will trust no pushed survey\n  fix: `fleet survey keygen`, then write its config again (`fleet device credentials ID`)", err=True)
    return texts


def kiosk_min_seq(device_id: str) -> int:
    """``[survey] min_seq`` for the config being written (``rollouts.replay_floor``)."""
    from fleet.surveys import rollouts

    return rollouts.replay_floor(device_id)


def new_device_survey(data_dir: Path, device_id: str, site: str) -> str | None:
    """A kiosk just added at *site* gets the site's current survey (a rollout of its own, signed
    now); what happened, for the person adding it, or None when the site has no pushed survey."""
    from fleet.surveys import keys, rollouts

    current = rollouts.site_survey(site, besides=device_id)
    if current is None:
        return None
    try:
        key = keys.load(data_dir, None)
    except keys.SigningKeyError as exc:
        return f"note: {site}'s current survey ({current.survey_id} version {current.version}) was not assigned: {str(exc).splitlines()[0]}\n  fix: fleet survey push {current.survey_id} --version {current.version} --to device:{device_id}"
    pushed = rollouts.assign_new_device(device_id, current, key)
    return f"{device_id} gets {site}'s current survey, {current.survey_id} version {current.version}, when it first connects (rollout {pushed.rollout.id})"


def load_key(data_dir: Path):  # type: ignore[no-untyped-def]
    from fleet.surveys import keys

    ask = (lambda: click.prompt("passphrase for the signing key", hide_input=True, err=True)) if sys.stdin.isatty() else None
    try:
        return keys.load(data_dir, ask)
    except keys.SigningKeyError as exc:
        fail(str(exc))


# --- rollouts ------------------------------------------------------------------------------------

rollout_options = [
    click.option("--to", "target", default="all", show_default=True, help="all, site:SITE, or device:ID[,ID…]."),
    click.option("--at", "at", help="Start then: 2026-11-24T21:00 (local time unless a zone is given), or +30m."),
    click.option("--rate", help="At most N devices a minute: 100/min."),
    click.option("--waves", help="Cumulative shares, each wave once the one before finished: 1,10,50,100%."),
    click.option("--wave-wait", type=click.FloatRange(min=0), default=600.0, show_default=True, help="Seconds after a wave was sent before the next goes even if some of its kiosks are silent."),
    click.option("--abort-if-failed", "abort_pct", help="Stop when this share of the devices that finished failed or refused: 20%."),
    click.option(
        "--min-devices", type=click.IntRange(min=1), default=None,
        help="Judge --abort-if-failed only once this many devices finished [default: max(5, 1% of the targets), at most the targets; 1 lets a single kiosk stop the rollout].",
    ),
]


def with_rollout_options(command):  # type: ignore[no-untyped-def]
    for option in reversed(rollout_options):
        command = option(command)
    return command


def _request(survey_id, version, target, at, rate, waves, wave_wait, abort_pct, min_devices, kind):  # type: ignore[no-untyped-def]
    from fleet.surveys import rollouts

    if rate and waves:
        raise rollouts.RolloutError("give --rate or --waves, not both\n  fix: --waves 1,10,50,100% for stages, or --rate 100/min for a steady pace")
    return rollouts.PushRequest(
        survey_id=survey_id,
        version=version,
        target=rollouts.parse_target(target),
        kind=kind,
        start_at=rollouts.parse_at(at, time.time()) if at else None,
        rate_per_min=rollouts.parse_rate(rate) if rate else None,
        waves=rollouts.parse_waves(waves) if waves else None,
        wave_wait_s=wave_wait,
        abort_failed_pct=rollouts.parse_percent(abort_pct, "--abort-if-failed") if abort_pct else None,
        abort_min_devices=min_devices,
    )


def _push(config_path, data_dir, db_url, survey_id, version, kind, **options) -> None:  # type: ignore[no-untyped-def]
    from fleet.surveys import rollouts, versions

    config = load_settings(config_path, data_dir=data_dir, db_url=db_url)
    try:
        request = _request(survey_id, version, kind=kind, **options)
    except rollouts.RolloutError as exc:
        fail(str(exc))
    with open_store(config):
        try:
            if version is None:
                request = dataclasses.replace(request, version=versions.get(survey_id).version)
            pushed = rollouts.push(request, load_key(config.data_dir))
        except (rollouts.RolloutError, versions.VersionError) as exc:
            fail(str(exc))
    r = pushed.rollout
    when = "now" if request.start_at is None else time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(request.start_at))
    pace = f", {request.rate_per_min}/min" if request.rate_per_min else (f", waves {','.join(f'{w:g}' for w in request.waves)}%" if request.waves else "")
    click.echo(
        f"rollout {r.id}: survey {r.survey_id} version {r.version} to {pushed.devices} device(s) ({r.target}), starting {when}{pace}; "
        f"signed with key {r.key_id}, seq {pushed.seqs.start}…{pushed.seqs.stop - 1}"
        + (f"; {pushed.superseded} unfinished assignment(s) of older rollouts cancelled" if pushed.superseded else "")
    )
    if r.abort_failed_pct is not None and r.abort_failed_pct <= 100.0 / r.abort_min_devices and pushed.devices > 1:
        click.echo(
            f"note: judged from {r.abort_min_devices} device(s), one kiosk refusing is {100.0 / r.abort_min_devices:.0f} % ≥ --abort-if-failed {r.abort_failed_pct:g} %:"
            " a single kiosk (a stolen one too) can stop this rollout for all\n  fix: a larger --min-devices, or a higher --abort-if-failed (docs/surveys.md, \"Abort\")",
            err=True,
        )
    click.echo(f"`fleet serve` sends it; follow it with: fleet survey status {r.id} --watch", err=True)


@survey.command("push")
@click.argument("survey_id")
@click.option("--version", type=int, help="Which version (default: the newest).")
@with_rollout_options
@settings_options
def push(survey_id, version, config_path, data_dir, db_url, **options) -> None:  # type: ignore[no-untyped-def]
    """Push a survey version to kiosks: a durable rollout, every assignment signed now."""
    _push(config_path, data_dir, db_url, survey_id, version, "push", **options)


@survey.command("rollback")
@click.argument("survey_id", required=False)
@click.option("--to-version", "version", type=int, required=True, help="The older version to go back to.")
@with_rollout_options
@settings_options
def rollback(survey_id, version, config_path, data_dir, db_url, **options) -> None:  # type: ignore[no-untyped-def]
    """Go back to an older version: a new rollout (new sequence numbers), never a replay.
    SURVEY_ID defaults to the survey of the newest rollout."""
    if survey_id is None:
        from fleet.surveys.tables import Rollout

        with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
            newest = Rollout.select().order_by(Rollout.id.desc()).first()
        if newest is None:
            fail("no rollout yet to roll back\n  fix: name the survey: fleet survey rollback ID --to-version N")
        survey_id = newest.survey_id
    _push(config_path, data_dir, db_url, survey_id, version, "rollback", **options)


@survey.command("status")
@click.argument("rollout", type=int, required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--devices", "with_devices", is_flag=True, help="Every device: desired vs reported survey, state, reason.")
@click.option("--watch", is_flag=True, help="Refresh until the rollout ends (Ctrl-C to stop watching; the rollout goes on).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True, help="Seconds between refreshes with --watch.")
@settings_options
def status(rollout, fmt, with_devices, watch, interval, config_path, data_dir, db_url) -> None:  # type: ignore[no-untyped-def]
    """Where a rollout stands (default: the newest): counts per state, failed and refused devices with why."""
    from fleet.surveys import rollouts
    from fleet.surveys.display import render_status, watch_status

    with open_store(load_settings(config_path, data_dir=data_dir, db_url=db_url)):
        try:
            current = rollouts.status(rollout, with_devices=with_devices or fmt == "json")
        except rollouts.RolloutError as exc:
            fail(str(exc))
        if watch:
            watch_status(current.rollout, interval)
            return
    if fmt == "json":
        click.echo(json.dumps(current.as_dict(), ensure_ascii=False))
        return
    render_status(current, with_devices)
