"""How ``fleet survey status`` looks: a table, and a live view with ``--watch``."""

from __future__ import annotations

import time

import click

from fleet.surveys.rollouts import RolloutStatus, status

STATE_COLOURS = {"pending": "white", "delivered": "cyan", "applied": "green", "failed": "red", "refused": "red", "cancelled": "magenta"}


def lines(current: RolloutStatus, with_devices: bool = False) -> list[str]:
    """The status as plain lines (also what --watch shows without rich)."""
    c = current
    out = [
        f"rollout {c.rollout}: {c.kind} of survey {c.survey_id} version {c.version} to {c.target} ({c.devices} devices): {c.state.upper()}",
        f"  created {c.created_at}, start {c.start_at}, key {c.key_id}; {c.published} of {c.devices} sent",
        "  " + "  ".join(f"{state} {count}" for state, count in c.counts.items()),
    ]
    if c.reason:
        out.append(f"  why: {c.reason}")
    for problem in c.problems[:50]:
        out.append(f"  {problem['status']}: {problem['device']}: {problem['reason']}")
    if len(c.problems) > 50:
        out.append(f"  … and {len(c.problems) - 50} more (--format json lists them all)")
    if with_devices:
        out.append("  device | seq | state | desired | reported | reason")
        for d in c.device_states:
            out.append(f"  {d['device']} | {d['seq']} | {d['status']} | {d['desired']} | {d['reported'] or '-'} | {d['reason']}")
    return out


def render_status(current: RolloutStatus, with_devices: bool = False) -> None:
    click.echo("\n".join(lines(current, with_devices)))


def watch_status(rollout_id: int, interval: float) -> None:
    """Live progress until the rollout is no longer active: rich's progress bars if rich is
    there, else the plain lines again every *interval*."""
    try:
        from rich.console import Group
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.text import Text
    except ImportError:
        while True:
            current = status(rollout_id)
            click.echo("\n".join(lines(current)) + "\n")
            if current.state != "active":
                return
            time.sleep(interval)
    progress = Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    current = status(rollout_id)
    tasks = {name: progress.add_task(name, total=current.devices) for name in ("sent", "delivered", "applied", "failed", "refused")}
    header = Text()
    with Live(Group(header, progress), refresh_per_second=8) as live:
        while True:
            current = status(rollout_id)
            reached = {
                "sent": current.published,
                "delivered": current.counts["delivered"] + current.counts["applied"],
                "applied": current.counts["applied"],
                "failed": current.counts["failed"],
                "refused": current.counts["refused"],
            }
            for name, task in tasks.items():
                progress.update(task, completed=reached[name])
            header.plain = "\n".join(lines(current)[:1] + ([f"  why: {current.reason}"] if current.reason else []))
            live.refresh()
            if current.state != "active":
                break
            time.sleep(interval)
    click.echo("\n".join(lines(current)))
