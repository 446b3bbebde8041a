"""The rules are pure: walked here with data and an injected 'now', including property tests."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.escalation import rules
from fleet.escalation.rules import DeviceSnapshot, WindowCount, WindowQuery
from tests.escalation_helpers import NOW, config, response

CONFIG = config()
MOOD = CONFIG.rule_by_id["mood"]


def intents_by_rule(responses, now=NOW):
    return {intent.rule: intent for intent in rules.response_intents(CONFIG, responses, now)}


def test_a_negative_response_raises_the_negative_rule_for_its_kiosk():
    found = intents_by_rule([response(negative=True)])
    assert set(found) == {"negative"}
    intent = found["negative"]
    assert (intent.scope, intent.site, intent.device_id, intent.severity) == ("device:kiosk-1", "kadikoy", "kiosk-1", "high")
    assert intent.facts["answers"] == [["satisfaction", "very-unhappy"]]
    assert intents_by_rule([response(negative=False)]) == {}


def test_a_help_request_is_urgent_and_a_chosen_answer_reaches_its_rule():
    found = intents_by_rule([response(help_requested=True, answers=(("satisfaction", "unhappy"), ("what-went-wrong", "cleanliness")))])
    assert set(found) == {"help", "negative", "cleaning"}
    assert found["help"].severity == "urgent" and found["help"].facts["help_requested"] is True
    assert "help" not in intents_by_rule([response(help_requested=False)])


def test_responses_in_one_batch_fold_into_one_intent_per_rule_and_scope():
    batch = [response(), response(), response(device="kiosk-2")]
    found = rules.response_intents(CONFIG, batch, NOW)
    scopes = sorted((intent.scope, len(intent.response_uuids)) for intent in found)
    assert scopes == [("device:kiosk-1", 2), ("device:kiosk-2", 1)]


def test_each_help_request_is_an_alert_of_its_own_while_negatives_fold_per_kiosk():
    first, second = response(help_requested=True), response(help_requested=True)  # two customers at one kiosk
    found = rules.response_intents(CONFIG, [first, second], NOW)
    helps = sorted((i.scope, i.device_id, i.response_uuids) for i in found if i.rule == "help")
    assert helps == sorted([(f"response:{r.uuid}", "kiosk-1", (r.uuid,)) for r in (first, second)]), "the kiosk is kept: messages and pages name it"
    (negative,) = [i for i in found if i.rule == "negative"]
    assert (negative.scope, negative.response_uuids) == ("device:kiosk-1", (first.uuid, second.uuid))


uuids = st.sampled_from([f"00000000-0000-4000-8000-00000000000{n}" for n in range(6)])


@given(st.lists(st.tuples(uuids, st.sampled_from(["kiosk-1", "kiosk-2"])), min_size=1, max_size=12))
def test_help_intents_are_one_per_distinct_response_each_carrying_it_once(items):
    # the same response may come twice (a resend in one batch): it is still one customer
    batch = [replace(response(help_requested=True, device=device), uuid=uuid) for uuid, device in items]
    helps = [i for i in rules.response_intents(CONFIG, batch, NOW) if i.rule == "help"]
    assert sorted(i.scope for i in helps) == sorted({f"response:{uuid}" for uuid, _ in items})
    assert all(i.response_uuids == (i.scope.removeprefix("response:"),) for i in helps)


@given(st.uuids(), st.uuids())
def test_two_different_help_responses_never_share_a_scope_and_one_response_always_gets_the_same(a, b):
    first, again, other = (replace(response(help_requested=True), uuid=str(u)) for u in (a, a, b))
    scope = lambda r: next(i.scope for i in rules.response_intents(CONFIG, [r], NOW) if i.rule == "help")
    assert scope(first) == scope(again)
    assert (scope(first) == scope(other)) == (a == b)


def test_a_response_rule_may_be_per_customer_per_kiosk_or_per_site():
    scoped = config(rules=[{"id": f"n-{scope}", "kind": "response", "on": "negative", "policy": "staff-now", "scope": scope} for scope in ("response", "device", "site")])
    one = response()
    found = {i.rule: (i.scope, i.device_id) for i in rules.response_intents(scoped, [one], NOW)}
    assert found == {"n-response": (f"response:{one.uuid}", "kiosk-1"), "n-device": ("device:kiosk-1", "kiosk-1"), "n-site": ("site:kadikoy", None)}


def test_a_response_from_a_drained_backlog_escalates_nothing():
    assert intents_by_rule([response(at=NOW - 11 * 60)]) == {}
    assert rules.window_queries(CONFIG, [response(at=NOW - 16 * 60)], NOW) == []
    assert set(intents_by_rule([response(at=NOW - 9 * 60)])) == {"negative"}


@given(misuse=st.booleans(), suspect=st.booleans(), negative=st.booleans(), help_requested=st.sampled_from([None, True, False]), answered=st.booleans())
def test_suspect_or_misuse_responses_are_never_escalated_nor_counted(misuse, suspect, negative, help_requested, answered):
    item = response(negative=negative, misuse=misuse, suspect=suspect, help_requested=help_requested, answers=None if answered else ())
    if misuse or suspect or not answered:
        assert rules.response_intents(CONFIG, [item], NOW) == []
        assert rules.window_queries(CONFIG, [item], NOW) == []


# --- the window rule ----------------------------------------------------------------------


def verdict(total, negative, rule=MOOD):
    query = WindowQuery(rule.id, "site:kadikoy", "kadikoy", None, NOW - rule.minutes * 60)
    intents, clears = rules.window_verdicts(CONFIG, [WindowCount(query, total, negative)])
    assert len(intents) + len(clears) == 1
    return intents[0] if intents else None


def test_happy_or_not_default_fifty_percent_of_four_in_fifteen_minutes():
    assert (MOOD.percent, MOOD.minutes, MOOD.min_responses, MOOD.scope) == (50.0, 15.0, 4, "site")
    assert verdict(4, 2) is not None
    assert verdict(3, 3) is None, "too few responses"
    assert verdict(5, 2) is None, "40 % is under 50 %"
    intent = verdict(10, 7)
    assert intent.facts == {"negative": 7, "total": 10, "percent": 70, "minutes": 15.0, "threshold_percent": 50.0}


@given(total=st.integers(0, 500), negative=st.integers(0, 500), percent=st.floats(1, 100), minimum=st.integers(1, 50))
def test_window_breach_is_exactly_the_threshold(total, negative, percent, minimum):
    negative = min(negative, total)
    rule = config(rules=[{"id": "w", "kind": "window", "policy": "staff-now", "percent": percent, "min_responses": minimum}]).rule_by_id["w"]
    share = Fraction(negative, total) if total else Fraction(0)
    assert rules.window_breached(rule, total, negative) == (total >= minimum and share >= Fraction(percent) / 100)


@given(total=st.integers(4, 300), negative=st.integers(0, 300), extra=st.integers(1, 20))
def test_more_negatives_never_clear_a_breach_and_more_positives_never_raise_one(total, negative, extra):
    negative = min(negative, total)
    if rules.window_breached(MOOD, total, negative):
        assert rules.window_breached(MOOD, total + extra, negative + extra)
    else:
        assert not rules.window_breached(MOOD, total + extra, negative)


@settings(max_examples=60)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 30 * 60), st.sampled_from(["kiosk-1", "kiosk-2"]), st.booleans()), max_size=30))
def test_window_queries_cover_exactly_the_scopes_of_recent_countable_responses(items):
    batch = [response(negative=negative, at=NOW - age, device=device, misuse=misuse) for negative, age, device, misuse in items]
    queries = rules.window_queries(CONFIG, batch, NOW)
    expected = {"site:kadikoy"} if any(not misuse and age <= 15 * 60 for _, age, _, misuse in items) else set()
    assert {query.scope for query in queries} == expected
    assert all(query.since == NOW - 15 * 60 for query in queries)


def test_a_device_scoped_window_counts_one_kiosk():
    per_device = config(rules=[{"id": "w", "kind": "window", "policy": "staff-now", "scope": "device"}])
    (query,) = rules.window_queries(per_device, [response(device="kiosk-7")], NOW)
    assert (query.scope, query.device_id) == ("device:kiosk-7", "kiosk-7")


# --- device rules -------------------------------------------------------------------------

# NOW is Monday 2026-09-21 17:13 in Istanbul; the site is open 08:00-20:00.
OPEN_DAYTIME = config(sites=[{"id": "kadikoy", "name": "Kadıköy", "opening_hours": ["daily 08:00-20:00"]}])


def device(**fields):
    return DeviceSnapshot(**{"device_id": "kiosk-1", "site": "kadikoy", "online": True, "last_seen": NOW - 60, **fields})


def test_a_silent_kiosk_is_offline_only_while_its_site_is_open():
    intents, clears = rules.device_verdicts(OPEN_DAYTIME, [device(last_seen=NOW - 11 * 60, online=False)], NOW)
    assert [i.rule for i in intents] == ["offline"] and intents[0].scope == "device:kiosk-1"
    night = NOW + 5 * 3600  # 22:13
    intents, _ = rules.device_verdicts(OPEN_DAYTIME, [device(last_seen=NOW)], night)
    assert [i.rule for i in intents] == []
    morning = NOW - 9 * 3600 - 7 * 60  # 08:06: open, but not yet for ten minutes
    assert [i.rule for i in rules.device_verdicts(OPEN_DAYTIME, [device(last_seen=None)], morning)[0]] == []
    _, clears = rules.device_verdicts(OPEN_DAYTIME, [device()], NOW)
    assert {c.rule for c in clears} == {"offline", "health"}


def test_health_problems_raise_one_alert_naming_them():
    intents, _ = rules.device_verdicts(CONFIG, [device(disk_free_bytes=50_000_000, oldest_unsent_age_s=3600, refused=2)], NOW)
    (health,) = [i for i in intents if i.rule == "health"]
    assert health.facts["problems"] == ["disk", "backlog", "refused"]
    intents, _ = rules.device_verdicts(CONFIG, [device(disk_free_bytes=5_000_000_000, oldest_unsent_age_s=60)], NOW)
    assert [i.rule for i in intents] == []
