"""The escalation rules: a pure module, like the kiosk's flow.

Inputs are data: the responses the store has *newly* stored (the response feed hands each
stored row once, and a redelivered response is never stored twice), the
counts of a window read from the store, the devices' last known status and health. Outputs
are data: ``Intent`` (raise, or attach to the alert already active for that rule and scope:
one customer's response, one kiosk or one site, see ``scope_of``)
and ``Clear`` (the condition behind an active alert has gone). No I/O, no clock: ``now`` is an
argument, so property tests can sweep every threshold and every moment.

    response  a negative response, a help request, or chosen answers (e.g. "what went wrong:
              cleanliness" → the cleaning staff), at most ``max_age_minutes`` old (a backlog
              drained hours later escalates nothing: that customer has gone)
    window    at least P % negative of at least N responses in the last M minutes, per site or
              per device (HappyOrNot's default: 50 %, 15 minutes, 4); clears by itself
    offline   a kiosk silent for more than T minutes while its site is open (and has been open
              for T minutes: a kiosk switched on at opening time gets the same grace); clears when heard
    health    disk nearly full, a backlog that is not draining, answers the fleet refused

Suspect responses (a child's burst, presses on the thank-you screen) are never escalated and
never counted in a window.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from fleet.escalation.config import EscalationConfig, HealthRule, OfflineRule, ResponseRule, WindowRule
from fleet.escalation.hours import is_within

# --- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewResponse:
    """A response the store has just stored for the first time."""

    uuid: str
    device_id: str
    site: str
    occurred_at: float
    negative: bool
    answers: tuple[tuple[str, str], ...]  # (question, option), in the order answered
    misuse: bool = False
    suspect: bool = False  # a burst the kiosk flagged (protocol field added by the exit work)
    help_requested: bool | None = None  # the customer accepted the kiosk's offer of help

    @property
    def countable(self) -> bool:
        """A real customer's answer: counted in windows, and may escalate."""
        return not self.misuse and not self.suspect and bool(self.answers)


@dataclass(frozen=True)
class DeviceSnapshot:
    """What the registry knows of one kiosk."""

    device_id: str
    site: str
    online: bool
    last_seen: float | None
    disk_free_bytes: int | None = None
    oldest_unsent_age_s: float | None = None
    refused: int = 0  # answers the fleet refused for good, kept on the card


@dataclass(frozen=True)
class WindowQuery:
    """A window the edge must count in the store: responses of *scope* since *since*."""

    rule: str
    scope: str
    site: str
    device_id: str | None
    since: float


@dataclass(frozen=True)
class WindowCount:
    query: WindowQuery
    total: int
    negative: int


# --- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Intent:
    """Raise an alert for (rule, scope), or attach to the one already active."""

    rule: str
    kind: str
    scope: str
    site: str
    device_id: str | None
    severity: str
    response_uuids: tuple[str, ...] = ()
    facts: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Clear:
    """The condition behind (rule, scope) has gone: its active alert resolves."""

    rule: str
    scope: str
    reason: str


def scope_of(kind: str, site: str, device_id: str | None, response_uuid: str | None = None) -> str:
    """The key an alert is kept under, with its rule: at most one active alert per (rule, scope).
    ``response``: one customer (``response:<uuid>``); ``device``: one kiosk; ``site``: one site."""
    if kind == "response" and response_uuid:
        return f"response:{response_uuid}"
    return f"device:{device_id}" if kind in ("device", "response") and device_id else f"site:{site}"


# --- response rules ----------------------------------------------------------------------


def _countable_pairs(config: EscalationConfig, responses: Iterable[NewResponse], kind: type) -> Iterator[tuple[NewResponse, Any]]:
    """(response, rule) for each countable response and each enabled rule of *kind* for its site."""
    for response in responses:
        if response.countable:
            for rule in config.rules:
                if isinstance(rule, kind) and rule.applies_to(response.site):
                    yield response, rule


def response_intents(config: EscalationConfig, responses: Iterable[NewResponse], now: float) -> list[Intent]:
    """One Intent per (rule, scope) the new responses trigger, carrying all their uuids (each once).
    A rule at scope ``response`` (every help rule) makes one Intent per response: each customer
    is an alert of their own."""
    found: dict[tuple[str, str], Intent] = {}
    for response, rule in _countable_pairs(config, responses, ResponseRule):
        if now - response.occurred_at > rule.max_age_minutes * 60 or not _matches(rule, response):
            continue
        assert rule.scope is not None  # set from ``on`` when the config is read
        scope = scope_of(rule.scope, response.site, response.device_id, response.uuid)
        key = (rule.id, scope)
        earlier = found.get(key)
        uuids = earlier.response_uuids if earlier else ()
        if response.uuid not in uuids:
            uuids += (response.uuid,)
        facts = {
            "on": rule.on,
            "device_id": response.device_id,
            "occurred_at": response.occurred_at,
            "answers": [list(answer) for answer in response.answers],
            "help_requested": bool(response.help_requested),
            "responses": len(uuids),
        }
        found[key] = Intent(rule.id, "response", scope, response.site, None if rule.scope == "site" else response.device_id, rule.severity, uuids, facts)
    return list(found.values())


def _matches(rule: ResponseRule, response: NewResponse) -> bool:
    if rule.on == "negative":
        return response.negative
    if rule.on == "help":
        return response.help_requested is True
    return any(question == rule.question and option in rule.options for question, option in response.answers)


# --- window rules ------------------------------------------------------------------------


def window_query(rule: WindowRule, site: str, device_id: str | None, now: float) -> WindowQuery:
    """The window of *rule* that a response of (site, device) falls in, ending now."""
    scope = scope_of(rule.scope, site, device_id)
    return WindowQuery(rule.id, scope, site, device_id if rule.scope == "device" else None, now - rule.minutes * 60)


def window_queries(config: EscalationConfig, responses: Iterable[NewResponse], now: float) -> list[WindowQuery]:
    """The windows that the new (countable) responses fall in, one per (rule, scope)."""
    queries: dict[tuple[str, str], WindowQuery] = {}
    for response, rule in _countable_pairs(config, responses, WindowRule):
        query = window_query(rule, response.site, response.device_id, now)
        if rule.minutes > 0 and response.occurred_at >= query.since:  # an old response from a backlog is not in the window now
            queries.setdefault((rule.id, query.scope), query)
    return list(queries.values())


def window_breached(rule: WindowRule, total: int, negative: int) -> bool:
    """At least ``min_responses`` responses, of which at least ``percent`` % negative (exact
    arithmetic: 50 % of 4 is 2, not 1.9999999)."""
    return total >= rule.min_responses and negative * 100 >= _exact(rule.percent) * total


@functools.lru_cache(maxsize=64)
def _exact(percent: float) -> int | Fraction:
    """*percent* as an exact number, made once per value (asked on every count): an
    int when it is whole, so the common comparison is integer arithmetic."""
    return int(percent) if float(percent).is_integer() else Fraction(percent)


def window_verdicts(config: EscalationConfig, counts: Iterable[WindowCount], uuids: Mapping[str, tuple[str, ...]] | None = None) -> tuple[list[Intent], list[Clear]]:
    """An Intent for each breached window, a Clear for each that is not (any alert there resolves).
    *uuids* maps a scope to the new responses that fell in it, to attach them to the alert."""
    intents: list[Intent] = []
    clears: list[Clear] = []
    for count in counts:
        rule = config.rule_by_id.get(count.query.rule)
        if not isinstance(rule, WindowRule):
            continue
        query = count.query
        if window_breached(rule, count.total, count.negative):
            facts = {"negative": count.negative, "total": count.total, "percent": round(100 * count.negative / count.total), "minutes": rule.minutes, "threshold_percent": rule.percent}
            intents.append(Intent(rule.id, "window", query.scope, query.site, query.device_id, rule.severity, tuple((uuids or {}).get(query.scope, ())), facts))
        else:
            clears.append(Clear(rule.id, query.scope, f"{count.negative} of {count.total} negative in the last {rule.minutes:g} minutes"))
    return intents, clears


# --- device rules ------------------------------------------------------------------------


def device_verdicts(config: EscalationConfig, devices: Iterable[DeviceSnapshot], now: float) -> tuple[list[Intent], list[Clear]]:
    """Offline and health rules over the registry's view of every kiosk."""
    intents: list[Intent] = []
    clears: list[Clear] = []
    for device in devices:
        site = config.site(device.site)
        scope = scope_of("device", device.site, device.device_id)
        for rule in config.rules:
            if not rule.applies_to(device.site):
                continue
            if isinstance(rule, OfflineRule):
                verdict = _offline(rule, device, site, now, scope)
            elif isinstance(rule, HealthRule):
                verdict = _health(rule, device, scope)
            else:
                continue
            if isinstance(verdict, Intent):
                intents.append(verdict)
            elif verdict is not None:
                clears.append(verdict)
    return intents, clears


def is_silent(rule: OfflineRule, device: DeviceSnapshot, now: float) -> bool:
    """Nothing heard for longer than the rule allows (a Last Will only stops last_seen moving)."""
    return device.last_seen is None or now - device.last_seen > rule.after_minutes * 60


def _offline(rule: OfflineRule, device: DeviceSnapshot, site, now: float, scope: str) -> Intent | Clear | None:
    if not is_silent(rule, device, now):
        return Clear(rule.id, scope, "the kiosk is heard again")
    grace = rule.after_minutes * 60
    # Only while open, and open for the whole grace already (not the first minutes of the day).
    if not (is_within(site.hours, site.zone, now) and is_within(site.hours, site.zone, now - grace)):
        return None
    facts = {"last_seen": device.last_seen, "online": device.online, "after_minutes": rule.after_minutes}
    return Intent(rule.id, "offline", scope, device.site, device.device_id, rule.severity, (), facts)


def health_problems(rule: HealthRule, device: DeviceSnapshot) -> list[str]:
    problems = []
    if rule.disk_free_mb and device.disk_free_bytes is not None and device.disk_free_bytes < rule.disk_free_mb * 1_000_000:
        problems.append("disk")
    if rule.backlog_age_minutes and device.oldest_unsent_age_s is not None and device.oldest_unsent_age_s > rule.backlog_age_minutes * 60:
        problems.append("backlog")
    if rule.refused and device.refused > 0:
        problems.append("refused")
    return problems


def _health(rule: HealthRule, device: DeviceSnapshot, scope: str) -> Intent | Clear:
    problems = health_problems(rule, device)
    if not problems:
        return Clear(rule.id, scope, "health is back within limits")
    facts = {"problems": problems, "disk_free_bytes": device.disk_free_bytes, "oldest_unsent_age_s": device.oldest_unsent_age_s, "refused": device.refused}
    return Intent(rule.id, "health", scope, device.site, device.device_id, rule.severity, (), facts)
