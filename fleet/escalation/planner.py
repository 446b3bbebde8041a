"""The escalation chain: who is notified about an open alert, and when. Pure, like the rules.

A policy is a list of stages, each with the delay after the previous one (the first: after
the alert opened) and who it notifies: roles and/or named contacts, among the contacts who
serve the alert's site and are on duty now (their active hours, in the site's time zone).
After the last stage the list runs again after ``repeat_after_minutes``, at most ``repeat``
more times, as PagerDuty's escalation policies do. An acknowledgement stops the chain (the
alert is no longer open, so nothing is due). An urgent alert (a customer asked for help
and is waiting) runs its first stage at once, whatever its delay says.

The chain's progress is two numbers on the alert, ``steps_done`` and ``last_step_at``: a step
is planned from them and written back in the same transaction as the notifications it
enqueues, so a crash or a second worker cannot run a step twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fleet.escalation.config import Contact, Policy, Site
from fleet.escalation.hours import is_within


@dataclass(frozen=True)
class ChainState:
    """What the planner needs of an alert."""

    alert_id: int
    state: str
    severity: str
    opened_at: float
    steps_done: int
    last_step_at: float | None


@dataclass(frozen=True)
class Send:
    alert_id: int
    step: int
    contact: Contact
    url: str

    @property
    def idempotency_key(self) -> str:
        """Same alert, step, contact and URL: the same notification, however often planned."""
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        return f"alert-{self.alert_id}-step-{self.step}-{self.contact.id}-{digest}"


@dataclass(frozen=True)
class Plan:
    sends: tuple[Send, ...]
    steps_done: int
    last_step_at: float | None
    next_step_at: float | None  # None: the chain has ended (or the alert is not open)
    nobody: tuple[int, ...] = ()  # steps that found no contact on duty


def total_steps(policy: Policy) -> int:
    return len(policy.stages) * (1 + policy.repeat)


def step_due(policy: Policy, chain: ChainState, step: int, previous_at: float | None) -> float:
    """When *step* runs: the first after the alert opened, the others after the step before."""
    stages = len(policy.stages)
    if step == 0:
        delay = 0.0 if chain.severity == "urgent" else policy.stages[0].after_minutes
        return chain.opened_at + delay * 60
    gap = policy.stages[step % stages].after_minutes if step % stages else policy.repeat_after_minutes
    assert previous_at is not None
    return previous_at + gap * 60


def recipients(policy: Policy, step: int, site: Site, contacts: list[Contact], now: float) -> list[Contact]:
    """The stage's contacts for this site who are on duty now, each once, in config order."""
    stage = policy.stages[step % len(policy.stages)]
    chosen = []
    for contact in contacts:
        if not contact.serves(site.id):
            continue
        if contact.id not in stage.contacts and not set(contact.roles) & set(stage.roles):
            continue
        if is_within(contact.hours, site.zone, now):
            chosen.append(contact)
    return chosen


def plan(chain: ChainState, policy: Policy, site: Site, contacts: list[Contact], now: float) -> Plan:
    """The steps due by *now* (several, when the worker was away), their sends, and the next wake-up."""
    if chain.state != "open":
        return Plan((), chain.steps_done, chain.last_step_at, None)
    sends: list[Send] = []
    nobody: list[int] = []
    step, last = chain.steps_done, chain.last_step_at
    total = total_steps(policy)
    while step < total:
        due = step_due(policy, chain, step, last)
        if due > now:
            return Plan(tuple(sends), step, last, due, tuple(nobody))
        people = recipients(policy, step, site, contacts, now)
        if not people:
            nobody.append(step)
        sends.extend(Send(chain.alert_id, step, contact, url) for contact in people for url in contact.urls)
        step, last = step + 1, due
    return Plan(tuple(sends), step, last, None, tuple(nobody))
