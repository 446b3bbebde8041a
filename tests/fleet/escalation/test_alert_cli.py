"""``fleet alert list | show | ack | resolve`` as people run it: separate processes on a real store,
with alerts raised the way the escalation raises them."""

from __future__ import annotations

import json

import pytest

from fleet.escalation import help
from fleet.escalation.alerts import history, raise_or_attach
from fleet.store import close_database, open_database
from tests.escalation_helpers import NOW, intent
from tests.fleet_processes import fleet_env, run_fleet


@pytest.fixture
def alerts_store(tmp_path, store_url):
    """Three alerts (the newest first when listed): a help request at Kadıköy, a window at the
    airport, a negative answer; the help request announced to its kiosk as waiting."""
    open_database(store_url)
    try:
        first = raise_or_attach(intent(rule="negative", uuids=("u-neg",)), NOW)
        window = raise_or_attach(intent(rule="mood", kind="window", scope="site:airport", site="airport", device=None), NOW + 1)
        helped = raise_or_attach(intent(rule="help", uuids=("u-help",)), NOW + 2)
        help.waiting(helped.alert_id, "kiosk-1", "u-help", NOW + 2, 45)
    finally:
        close_database()
    env = fleet_env(tmp_path / "fleet", db=store_url)
    return env, {"negative": first.alert_id, "mood": window.alert_id, "help": helped.alert_id}


def fleet(env, *args):  # type: ignore[no-untyped-def]
    return run_fleet(*args, env=env)


def test_list_as_a_table_and_as_json_lines_filtered_by_state_and_site(alerts_store):
    env, ids = alerts_store
    table = fleet(env, "alert", "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "state", "rule", "severity", "site", "device", "opened", "(UTC)", "triggers", "acknowledged", "by", "eta", "responses"]
    assert [line.split()[0] for line in lines[1:4]] == [str(ids["help"]), str(ids["mood"]), str(ids["negative"])] and lines[-1] == "3 alert(s)"
    assert "2026-09-21T14:13:22Z" in lines[1] and "kiosk-1" in lines[1]

    listed = [json.loads(line) for line in fleet(env, "alert", "list", "--format", "json", "--site", "kadikoy").stdout.splitlines()]
    assert [a["id"] for a in listed] == [ids["help"], ids["negative"]]
    wanted = {"id", "state", "rule", "site", "device_id", "opened_at", "acknowledged_by", "response_uuids"}
    assert wanted <= set(listed[0]) and listed[0]["response_uuids"] == ["u-help"] and listed[0]["acknowledged_by"] is None

    assert [json.loads(line)["id"] for line in fleet(env, "alert", "list", "--format", "json", "--state", "open", "--site", "airport").stdout.splitlines()] == [ids["mood"]]


def test_ack_then_resolve_are_audited_as_the_cli_and_announced_to_the_kiosk(alerts_store, store_url):
    env, ids = alerts_store
    acked = fleet(env, "alert", "ack", str(ids["help"]), "--by", "Ayşe Yılmaz", "--eta", "2", "--comment", "geliyorum")
    assert acked.returncode == 0, acked.stderr
    assert acked.stdout.strip() == f"alert {ids['help']} acknowledged by Ayşe Yılmaz, ETA 2 min (help, kadikoy / kiosk-1)"
    again = fleet(env, "alert", "ack", str(ids["help"]), "--by", "Ayşe Yılmaz")
    assert again.returncode == 0, "the same person again changes nothing"
    resolved = fleet(env, "alert", "resolve", str(ids["help"]), "--by", "Ayşe Yılmaz", "--comment", "konuşuldu")
    assert resolved.returncode == 0 and resolved.stdout.strip() == f"alert {ids['help']} resolved by Ayşe Yılmaz (help, kadikoy / kiosk-1)"
    open_database(store_url)
    try:
        trail = [(e.action, e.by, e.channel, e.comment) for e in history(ids["help"])]
        assert trail[1:] == [("acknowledged", "Ayşe Yılmaz", "cli", "geliyorum (ETA 2 min)"), ("resolved", "Ayşe Yılmaz", "cli", "konuşuldu")]
        told = [(row.state, json.loads(row.payload).get("staff", ""), row.sent_at) for row in help.pending()]
        assert told == [("waiting", "", None), ("coming", "Ayşe Yılmaz", None), ("closed", "", None)], "written for the running fleet's announcer"
    finally:
        close_database()


def test_show_tells_one_alerts_whole_story_as_text_and_as_json(alerts_store):
    env, ids = alerts_store
    assert fleet(env, "alert", "ack", str(ids["help"]), "--by", "Ayşe Yılmaz", "--eta", "2", "--comment", "geliyorum").returncode == 0
    shown = fleet(env, "alert", "show", str(ids["help"]))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"alert {ids['help']}: help (response, high), acknowledged"
    assert lines[1] == "  site kadikoy / kiosk-1, scope device:kiosk-1" and "acknowledged 2026-" in shown.stdout and "by Ayşe Yılmaz, ETA 2 min" in shown.stdout
    assert "  responses (1): u-help" in lines
    history_lines = lines[lines.index("history:") + 1 : lines.index("deliveries:")]
    assert [line.split("  ")[2] for line in history_lines] == ["raised", "acknowledged"] and history_lines[1].endswith("Ayşe Yılmaz (cli): geliyorum (ETA 2 min)")
    assert lines[-1] == "  0 attempt(s)", "nobody was notified here: no contacts in this store's config"

    (line,) = fleet(env, "alert", "show", str(ids["mood"]), "--format", "json").stdout.splitlines()
    whole = json.loads(line)
    assert set(whole) == {"alert", "history", "deliveries"} and whole["alert"]["id"] == ids["mood"] and whole["alert"]["scope"] == "site:airport"
    assert [entry["action"] for entry in whole["history"]] == ["raised"] and whole["deliveries"] == []


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (["ack", "999", "--by", "Ayşe"], 2, "no alert 999\n  fix: see the ids with `fleet alert list`"),
        (["show", "999"], 2, "no alert 999\n  fix: see the ids with `fleet alert list`"),
        (["resolve", "999"], 2, "no alert 999"),
        (["ack", "{negative}", "--by", "  "], 2, "who acts must be named"),
        (["ack", "{negative}", "--by", "Ayşe", "--eta", "5000"], 2, "an ETA of 5000 minutes is out of range"),
        (["ack", "{help}", "--by", "Ayşe", "--eta", "500"], 2, "an ETA of 500 minutes is more than the kiosk can show (240)"),
        (["list", "--state", "sleeping"], 2, "Invalid value for '--state'"),
    ],
    ids=["unknown id", "show unknown id", "resolve unknown id", "nobody named", "eta out of range", "eta the kiosk cannot show", "unknown state"],
)
def test_mistakes_exit_2_and_say_what_to_do(alerts_store, args, status, says):
    env, ids = alerts_store
    result = fleet(env, "alert", *[arg.format(**ids) for arg in args])
    assert result.returncode == status and says in result.stderr, result.stderr


def test_an_alert_that_moved_on_exits_1_and_says_who_has_it(alerts_store):
    env, ids = alerts_store
    assert fleet(env, "alert", "ack", str(ids["negative"]), "--by", "Ayşe Yılmaz").returncode == 0
    taken = fleet(env, "alert", "ack", str(ids["negative"]), "--by", "Mehmet Kaya")
    assert taken.returncode == 1 and f"alert {ids['negative']} is already acknowledged by Ayşe Yılmaz" in taken.stderr
    assert fleet(env, "alert", "resolve", str(ids["negative"])).returncode == 0
    closed = fleet(env, "alert", "resolve", str(ids["negative"]))
    assert closed.returncode == 1 and "is resolved; it cannot be resolved any more" in closed.stderr
