"""The escalation chain is pure: stages, delays, repeats, duty hours, acknowledgement."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleet.escalation.planner import ChainState, plan, total_steps
from tests.escalation_helpers import NOW, config

CONFIG = config(
    contacts=[
        {"id": "ayse", "name": "Ayşe", "sites": ["kadikoy"], "roles": ["staff"], "urls": ["json://127.0.0.1:9/a", "ntfy://ayse"]},
        {"id": "night", "name": "Gece", "sites": ["kadikoy"], "roles": ["staff"], "urls": ["json://127.0.0.1:9/n"], "active_hours": ["daily 22:00-06:00"]},
        {"id": "lead", "name": "Şef", "sites": ["kadikoy"], "roles": ["shift-lead"], "urls": ["json://127.0.0.1:9/l"]},
        {"id": "other", "name": "Başka", "sites": ["airport"], "roles": ["staff"], "urls": ["json://127.0.0.1:9/o"]},
    ],
    policies=[{"id": "staff-now", "stages": [{"roles": ["staff"]}, {"after_minutes": 5, "roles": ["shift-lead"]}], "repeat": 1, "repeat_after_minutes": 10}],
)
POLICY = CONFIG.policy_by_id["staff-now"]
SITE = CONFIG.site("kadikoy")
CONTACTS = CONFIG.contacts_for("kadikoy")


def chain(steps_done=0, last=None, state="open", severity="high"):
    return ChainState(7, state, severity, NOW, steps_done, last)


def test_the_first_stage_reaches_on_duty_staff_of_the_site_only():
    result = plan(chain(), POLICY, SITE, CONTACTS, NOW)  # 17:13: the night contact is off duty
    assert [(s.contact.id, s.url) for s in result.sends] == [("ayse", "json://127.0.0.1:9/a"), ("ayse", "ntfy://ayse")]
    assert (result.steps_done, result.last_step_at, result.next_step_at) == (1, NOW, NOW + 5 * 60)
    assert len({s.idempotency_key for s in result.sends}) == 2


def test_stages_then_a_repeat_then_the_end():
    first = plan(chain(), POLICY, SITE, CONTACTS, NOW)
    assert plan(chain(1, NOW), POLICY, SITE, CONTACTS, NOW + 299).sends == (), "not due yet"
    second = plan(chain(1, NOW), POLICY, SITE, CONTACTS, NOW + 300)
    assert [s.contact.id for s in second.sends] == ["lead"] and second.next_step_at == NOW + 300 + 600
    repeat = plan(chain(2, NOW + 300), POLICY, SITE, CONTACTS, NOW + 900)
    assert [s.contact.id for s in repeat.sends] == ["ayse", "ayse"] and repeat.steps_done == 3
    last = plan(chain(3, NOW + 900), POLICY, SITE, CONTACTS, NOW + 1200)
    assert last.steps_done == 4 == total_steps(POLICY) and last.next_step_at is None
    assert plan(chain(4, NOW + 1200), POLICY, SITE, CONTACTS, NOW + 99999).sends == ()
    assert first.sends[0].idempotency_key != repeat.sends[0].idempotency_key, "a repeat is a new notification"


def test_a_worker_that_was_away_runs_every_missed_step_once():
    result = plan(chain(), POLICY, SITE, CONTACTS, NOW + 3600)
    assert result.steps_done == 4 and [s.step for s in result.sends] == [0, 0, 1, 2, 2, 3]


def test_an_acknowledged_alert_plans_nothing():
    for state in ("acknowledged", "resolved", "expired"):
        result = plan(chain(1, NOW, state=state), POLICY, SITE, CONTACTS, NOW + 3600)
        assert result.sends == () and result.next_step_at is None and result.steps_done == 1


def test_an_urgent_alert_runs_its_first_stage_at_once_whatever_its_delay():
    slow = config(policies=[{"id": "staff-now", "stages": [{"after_minutes": 3, "roles": ["staff"]}]}]).policy_by_id["staff-now"]
    assert plan(chain(), slow, SITE, CONTACTS, NOW).sends == ()
    assert [s.contact.id for s in plan(chain(severity="urgent"), slow, SITE, CONTACTS, NOW).sends] == ["ayse", "ayse"]


def test_nobody_on_duty_is_reported_and_the_chain_goes_on():
    night_only = [c for c in CONTACTS if c.id in ("night", "lead")]
    result = plan(chain(), POLICY, SITE, night_only, NOW)
    assert result.sends == () and result.nobody == (0,) and result.steps_done == 1


@given(st.integers(0, 3), st.integers(0, 6), st.floats(0, 48 * 3600))
def test_never_more_steps_than_the_policy_allows_and_never_before_their_time(repeat, done, elapsed):
    policy = config(policies=[{"id": "staff-now", "stages": [{"roles": ["staff"]}, {"after_minutes": 5, "roles": ["shift-lead"]}], "repeat": repeat}]).policy_by_id["staff-now"]
    done = min(done, total_steps(policy))
    last = NOW + done * 60 if done else None
    now = NOW + elapsed
    result = plan(chain(done, last), policy, SITE, CONTACTS, now)
    assert done <= result.steps_done <= total_steps(policy)
    assert all(s.step >= done for s in result.sends)
    assert result.next_step_at is None or result.next_step_at > now
    assert (result.next_step_at is None) == (result.steps_done == total_steps(policy))
