"""The alert store on SQLite and PostgreSQL: one active alert per (rule, scope), the lifecycle,
the audit trail, and two real processes racing to raise the same alerts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from fleet.escalation import alerts
from fleet.escalation.alerts import AlertError, AlertNotFound, AlertStateError
from fleet.escalation.tables import Alert
from tests.escalation_helpers import NOW, intent

ROOT = Path(__file__).resolve().parents[3]


def test_a_second_trigger_attaches_to_the_active_alert(store):
    first = alerts.raise_or_attach(intent(uuids=["u1"]), NOW)
    second = alerts.raise_or_attach(intent(uuids=["u2", "u3"]), NOW + 5)
    assert first.created and not second.created and first.alert_id == second.alert_id
    (row,) = alerts.list_alerts()
    assert row.triggers == 2 and row.response_uuids == ["u1", "u2", "u3"] and row.state == "open"
    assert [entry.action for entry in alerts.history(row.id)] == ["raised", "attached"]


def test_a_response_given_twice_raises_nothing_more(store):
    alerts.raise_or_attach(intent(uuids=["u1"]), NOW)
    assert alerts.raise_or_attach(intent(uuids=["u1"]), NOW + 1) is None
    alerts.resolve(alerts.list_alerts()[0].id, "Ayşe", NOW + 2, "cli")
    assert alerts.raise_or_attach(intent(uuids=["u1"]), NOW + 3) is None, "a redelivered response never raises a second alert"
    assert len(alerts.list_alerts()) == 1


def test_other_rules_and_scopes_raise_their_own_alerts(store):
    alerts.raise_or_attach(intent(uuids=["u1"]), NOW)
    alerts.raise_or_attach(intent(rule="help", uuids=["u1"]), NOW)
    alerts.raise_or_attach(intent(scope="device:kiosk-2", device="kiosk-2", uuids=["u2"]), NOW)
    assert len(alerts.list_alerts(state="open")) == 3


def test_lifecycle_acknowledge_then_resolve_with_audit_trail(store):
    raised = alerts.raise_or_attach(intent(uuids=["u1"]), NOW)
    row = alerts.acknowledge(raised.alert_id, "Ayşe Yılmaz", NOW + 60, "link", eta_minutes=3, comment="geliyorum")
    assert (row.state, row.acknowledged_by, row.eta_minutes, row.acknowledged_at) == ("acknowledged", "Ayşe Yılmaz", 3, NOW + 60)
    assert alerts.acknowledge(raised.alert_id, "Ayşe Yılmaz", NOW + 61, "web").acknowledged_at == NOW + 60, "the same person again changes nothing"
    with pytest.raises(AlertStateError, match="already acknowledged by Ayşe Yılmaz"):
        alerts.acknowledge(raised.alert_id, "Mehmet", NOW + 62, "cli")
    # while acknowledged, a new trigger still attaches (one active alert per rule and scope)
    assert not alerts.raise_or_attach(intent(uuids=["u2"]), NOW + 70).created
    row = alerts.resolve(raised.alert_id, "Mehmet", NOW + 120, "cli", comment="temizlendi")
    assert row.state == "resolved" and row.closed_at == NOW + 120
    trail = [(e.action, e.by, e.channel, e.comment) for e in alerts.history(raised.alert_id)]
    assert [e[0] for e in trail] == ["raised", "acknowledged", "attached", "resolved"]
    assert trail[0][1:3] == trail[2][1:3] == ("system", "system")
    assert trail[1] == ("acknowledged", "Ayşe Yılmaz", "link", "geliyorum (ETA 3 min)")
    assert trail[3] == ("resolved", "Mehmet", "cli", "temizlendi")
    with pytest.raises(AlertStateError, match="is resolved"):
        alerts.acknowledge(raised.alert_id, "Ayşe", NOW + 130, "web")
    # closed: the next trigger raises a new alert
    assert alerts.raise_or_attach(intent(uuids=["u3"]), NOW + 200).created


def test_expire_only_an_unacknowledged_alert(store):
    first = alerts.raise_or_attach(intent(uuids=["u1"]), NOW)
    assert alerts.expire(first.alert_id, NOW + 7200, "nobody came").state == "expired"
    second = alerts.raise_or_attach(intent(uuids=["u2"]), NOW + 7300)
    alerts.acknowledge(second.alert_id, "Ayşe", NOW + 7301, "cli")
    with pytest.raises(AlertStateError):
        alerts.expire(second.alert_id, NOW + 9000)


def test_list_filters_and_json_shape(store):
    alerts.raise_or_attach(intent(uuids=["u1"]), NOW)
    alerts.raise_or_attach(intent(rule="mood", kind="window", scope="site:airport", site="airport", device=None, negative=3, total=4), NOW + 1)
    alerts.acknowledge(1, "Ayşe", NOW + 2, "cli")
    assert [r.rule for r in alerts.list_alerts(site="airport")] == ["mood"]
    assert [r.id for r in alerts.list_alerts(state="acknowledged")] == [1]
    assert [r.id for r in alerts.list_alerts(state="active")] == [2, 1]
    line = msgspec.json.decode(msgspec.json.encode(alerts.list_alerts(state="open")[0]))
    assert {"id", "state", "rule", "site", "device_id", "opened_at", "acknowledged_by", "response_uuids"} <= set(line)
    assert line["facts"] == {"negative": 3, "total": 4}


def test_bad_requests_say_what_to_do(store):
    with pytest.raises(AlertNotFound, match="fleet alert list"):
        alerts.acknowledge(99, "Ayşe", NOW, "cli")
    raised = alerts.raise_or_attach(intent(), NOW)
    with pytest.raises(AlertError, match="must be named"):
        alerts.acknowledge(raised.alert_id, "  ", NOW, "cli")
    with pytest.raises(AlertError, match="ETA"):
        alerts.acknowledge(raised.alert_id, "Ayşe", NOW, "cli", eta_minutes=-1)
    with pytest.raises(AlertError, match="unknown state"):
        alerts.list_alerts(state="closed")
    assert alerts.get_alert(raised.alert_id).state == "open", "nothing changed"


def test_the_unique_partial_index_refuses_a_second_active_alert_whoever_writes(store):
    alerts.raise_or_attach(intent(), NOW)
    import peewee

    with pytest.raises(peewee.IntegrityError):
        Alert.insert(rule="negative", scope="device:kiosk-1", kind="response", severity="high", site="kadikoy", state="acknowledged", opened_at=NOW, updated_at=NOW).execute()
    # closed alerts of the same key may be many
    Alert.insert(rule="negative", scope="device:kiosk-1", kind="response", severity="high", site="kadikoy", state="resolved", opened_at=NOW, updated_at=NOW).execute()


@pytest.mark.slow
def test_two_processes_racing_make_one_alert_per_key(store, store_url):
    count = 100
    racers = [subprocess.Popen([sys.executable, "-m", "tests.escalation_helpers", "race", store_url, str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(2)]
    for racer in racers:
        assert racer.stdout.readline().strip() == "ready"
    for racer in racers:
        racer.stdin.write("go\n")
        racer.stdin.flush()
    created = [int(racer.communicate(timeout=120)[0]) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    assert sum(created) == count, f"each key raised once in all: {created}"
    rows = alerts.list_alerts(limit=1000)
    assert len(rows) == count and len({row.scope for row in rows}) == count
    assert sum(row.triggers for row in rows) == 2 * count, "the loser of each race attached instead"


def test_a_store_made_before_escalation_gains_its_tables(store_url, monkeypatch):
    from fleet import store as store_module

    everything = list(store_module.MIGRATIONS)
    monkeypatch.setattr(store_module, "MIGRATIONS", everything[:1])  # the store as the previous release left it
    store_module.open_database(store_url)
    store_module.close_database()
    monkeypatch.setattr(store_module, "MIGRATIONS", everything)
    db = store_module.open_database(store_url)
    try:
        assert {"alerts", "alert_events", "notifications", "notification_deliveries", "used_tokens"} <= set(db.get_tables())
        assert max(m.version for m in store_module.SchemaMigration.select()) == len(everything)
        assert alerts.raise_or_attach(intent(), NOW).created
    finally:
        store_module.close_database()
