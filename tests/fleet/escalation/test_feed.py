"""The response feed on a real store (SQLite, and PostgreSQL when it answers): what ingest stored
reaches the rules once, from the store's tail, with nothing of the escalation in ingest's path."""

from __future__ import annotations

import threading
import time

import peewee
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fleet.escalation.feed import ResponseFeed
from fleet.escalation.service import Escalation
from fleet.escalation.tables import Alert
from fleet.store import StoredResponse, database
from tests.escalation_helpers import KEY, NOW, config, response, stored


def feed_at(clock, **options) -> ResponseFeed:
    return ResponseFeed(Escalation(config(), KEY, clock=clock), clock=clock, **options)


def rules_of(raised) -> list[str]:
    """The rules of the alerts a poll raised or attached to."""
    return sorted(Alert.get_by_id(result.alert_id).rule for result in raised)


def alerts() -> list[tuple[str, str, int]]:
    return sorted((alert.rule, alert.scope, alert.triggers) for alert in Alert.select())


def test_a_help_request_reaches_the_rules_once_and_happy_responses_stay_in_the_store(store):
    feed = feed_at(lambda: NOW)
    feed.poll()  # the start: nothing stored yet
    helped = response(help_requested=True)
    stored([response(negative=False) for _ in range(5)] + [helped])
    raised = feed.poll()
    assert rules_of(raised) == ["help", "negative"] and feed.handed == 1, "only the one a rule may take is read"
    assert feed.poll() == [] and feed.handed == 1, "read once"
    assert ("help", f"response:{helped.uuid}", 1) in alerts()


def test_a_happy_fourth_response_completes_a_window_breach(store):
    """2 of 4 negative in 15 minutes at one kiosk: the window rule fires when the fourth,
    happy, response arrives. No response rule: the feed reads no row into Python, the window
    tallies (grouped by the store) see them all."""
    only_window = config(rules=[{"id": "mood", "kind": "window", "policy": "staff-now", "scope": "device"}])
    feed = ResponseFeed(Escalation(only_window, KEY, clock=lambda: NOW), clock=lambda: NOW)
    feed.poll()
    stored([response(at=NOW - 60), response(at=NOW - 50), response(negative=False, at=NOW - 40)])
    assert feed.poll() == [], "2 of 3: under the rule's 4 responses"
    stored([response(negative=False, at=NOW - 30)])
    (raised,) = feed.poll()
    assert rules_of([raised]) == ["mood"] and raised.created and feed.handed == 0


def test_an_answer_a_rule_names_is_read_even_from_a_happy_response(store):
    feed = feed_at(lambda: NOW)
    feed.poll()
    stored([response(negative=False, answers=(("satisfaction", "happy"), ("what-went-wrong", "cleanliness")))])
    assert rules_of(feed.poll()) == ["cleaning"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20), other=st.sampled_from(["Temizlik", "İ", "ı", 'a"b', "%", "_", "\\"]))
def test_the_stores_filter_never_misses_an_answer_a_rule_names(store, option, other):
    """Quotes, backslashes, LIKE's wildcards, Turkish letters: the option is found in the
    answers' JSON by the store as ingest encodes it; the rules then check it exactly."""
    assume(other != option)
    StoredResponse.delete().execute()
    Alert.delete().execute()
    rules = [{"id": "pick", "kind": "response", "on": "answer", "question": "q", "options": [option], "policy": "staff-now"}]
    feed = ResponseFeed(Escalation(config(rules=rules), KEY, clock=lambda: NOW), clock=lambda: NOW)
    feed.poll()
    stored([response(negative=False, answers=(("q", other),)), response(negative=False, answers=(("q", option),))])
    (raised,) = feed.poll()
    assert rules_of([raised]) == ["pick"] and Alert.get_by_id(raised.alert_id).triggers == 1, "the other answer raised nothing"


def test_a_restarted_feed_reads_the_last_ten_minutes_again_and_raises_nothing_twice(store):
    clock = [NOW]
    old, recent = response(help_requested=True, at=NOW - 700), response(help_requested=True, at=NOW - 300)
    stored([old, recent])  # stored by a fleet killed before its feed read them (received_at = occurred_at here)
    feed_at(lambda: clock[0]).poll()
    scopes = {scope for _, scope, _ in alerts()}
    assert f"response:{recent.uuid}" in scopes and f"response:{old.uuid}" not in scopes, "the last 10 minutes are read again, no further"
    before = alerts()
    clock[0] += 60
    again = feed_at(lambda: clock[0])
    again.poll()
    assert again.handed == 1 and alerts() == before, "read again, idempotent per rule and response"


def test_a_response_committing_after_a_higher_id_is_read_at_the_next_settle_once(store):
    """PostgreSQL hands ids out before commit: id 150 can commit after 200 was read."""
    clock = [NOW]
    feed = feed_at(lambda: clock[0], settle_seconds=2.0, late_commits=True)
    feed.poll()
    first, late, later = response(device="kiosk-1"), response(device="kiosk-2"), response(device="kiosk-3")
    _stored_with_id(first, 100)
    _stored_with_id(later, 200)
    clock[0] += 0.5
    assert feed.poll() and feed.cursor == 200
    _stored_with_id(late, 150)
    clock[0] += 0.5
    assert feed.poll() == [], "the tail reads past it"
    clock[0] += 2.0
    assert rules_of(feed.poll()) == ["negative"] and feed.handed == 3, "the settle reads the last ids again"
    for _ in range(3):
        clock[0] += 2.0
        assert feed.poll() == [] and feed.handed == 3, "once"
    slow = response(device="kiosk-4")
    _stored_with_id(slow, 180)  # its transaction took 8 s: still within late_seconds (15)
    clock[0] += 2.0
    assert rules_of(feed.poll()) == ["negative"] and feed.handed == 4


def _stored_with_id(one, row_id: int) -> None:
    stored([one])
    StoredResponse.update(id=row_id).where(StoredResponse.uuid == one.uuid).execute()


def test_ingest_wakes_the_running_feed_and_stop_reads_what_is_left(store):
    feed = ResponseFeed(Escalation(config(), KEY), poll_seconds=30.0)  # only a wake makes it read
    feed.start()
    try:
        helped = response(help_requested=True, at=time.time())
        stored([helped])
        feed.wake()
        deadline = time.monotonic() + 10
        while not Alert.select().where(Alert.scope == f"response:{helped.uuid}").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert Alert.select().where(Alert.scope == f"response:{helped.uuid}").exists(), "read at once, not at the next poll (30 s)"
        last = response(help_requested=True, at=time.time())
        stored([last])
    finally:
        feed.stop()
    assert Alert.select().where(Alert.scope == f"response:{last.uuid}").exists(), "stop reads what was stored before it"
    assert not any(thread.name == "escalation-feed" for thread in threading.enumerate())


def test_a_response_the_store_refuses_to_attach_costs_only_its_own_alert(store, caplog):
    """The rules fail on one response of a read (here the store itself refuses to record it,
    through a trigger: an IntegrityError, not the store being away): the others in the same
    read still raise their alerts, the refused one is logged with its uuid, read once."""
    if not isinstance(database.obj, peewee.SqliteDatabase):
        pytest.skip("the refusing trigger is written in SQLite's dialect")
    feed = feed_at(lambda: NOW)
    feed.poll()
    refused, kept = response(help_requested=True, device="kiosk-1"), response(help_requested=True, device="kiosk-2")
    database.execute_sql(f"CREATE TRIGGER refuse BEFORE INSERT ON alert_responses WHEN NEW.uuid = '{refused.uuid}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    stored([refused, kept])
    feed.poll()
    scopes = {scope for _, scope, _ in alerts()}
    assert f"response:{kept.uuid}" in scopes and f"response:{refused.uuid}" not in scopes
    assert any(getattr(record, "response", None) == refused.uuid for record in caplog.records if "cannot take this response" in record.getMessage())
    assert feed.poll() == [] and feed.handed == 2, "the refused one is read once, not again and again"


def test_a_response_whose_answers_cannot_be_read_is_skipped_and_the_feed_goes_on(store):
    feed = feed_at(lambda: NOW)
    feed.poll()
    broken, fine = response(help_requested=True, device="kiosk-1"), response(help_requested=True, device="kiosk-2")
    stored([broken, fine])
    StoredResponse.update(answers='[{"question": 1}]').where(StoredResponse.uuid == broken.uuid).execute()
    feed.poll()
    assert {scope for _, scope, _ in alerts()} >= {f"response:{fine.uuid}"} and feed.handed == 1


def test_when_the_newest_responses_are_deleted_the_feed_reads_the_ids_handed_out_again(store):
    """SQLite hands the highest id out again after the newest rows are deleted (a device removed
    with its answers): the feed and the window tallies move back, so the next rows are read."""
    feed = feed_at(lambda: NOW)
    feed.poll()
    stored([response(negative=False, device="kiosk-9") for _ in range(3)])
    feed.poll()
    top = feed.cursor
    StoredResponse.delete().where(StoredResponse.device_id == "kiosk-9").execute()
    helped = response(help_requested=True)
    stored([helped])  # SQLite: the id of a deleted row again, at or below the cursor (PostgreSQL: a new one)
    if isinstance(database.obj, peewee.SqliteDatabase):
        assert StoredResponse.get(StoredResponse.uuid == helped.uuid).id <= top, "the case under test: an id handed out again"
    feed.poll()
    assert f"response:{helped.uuid}" in {scope for _, scope, _ in alerts()}
