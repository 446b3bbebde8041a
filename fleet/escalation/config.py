"""The escalation sections of ``fleet.toml``: sites, contacts, policies, rules, notifications.

Typed (msgspec Structs, unknown keys refused) and checked as a whole: ``check_document``
reports every problem at once, each with its key path, the fix and "did you mean" (see
``validate.py``), then the cross-references (a rule's policy, a contact's sites, a stage's
contacts and roles), the time zones and hours, and every apprise URL through apprise's own
parser. ``fleet config check`` and ``fleet serve --config`` call ``load_file`` (or
``check_document`` on the sections they read themselves) and exit 2 on ``EscalationConfigError``.

Apprise URLs carry secrets (tokens, passwords, phone numbers): ``shown()`` gives the config
with every URL in apprise's privacy form, for logs and ``fleet config show``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from fleet.escalation import hours as hours_module
from fleet.validate import ConfigProblems, Walker, did_you_mean, read_document
from kiosk.contract.deployment import help_problems

EXAMPLE_PATH = Path(__file__).with_name("example-fleet.toml")
SECTIONS = ("sites", "contacts", "policies", "rules", "notifications")
ALL_SITES = "*"

Id = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Minutes = Annotated[float, msgspec.Meta(ge=0, le=7 * 24 * 60)]
Severity = Literal["urgent", "high", "normal", "low"]


class Site(msgspec.Struct, forbid_unknown_fields=True, dict=True):
    id: Id
    name: str
    time_zone: str = "Europe/Istanbul"
    language: Literal["tr", "en"] = "tr"
    opening_hours: list[str] = []  # empty: always open
    help_wait_seconds: Annotated[int, msgspec.Meta(ge=5, le=600)] = 45
    fallback_phone: str | None = None  # written into each kiosk's [help] (fleet device add / credentials): shown when no staff can be told
    fallback_qr_url: str | None = None  # likewise, as [help] fallback_url: https://…, at most 200 characters (a QR code)
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 30  # personal data: notifications, call-back numbers

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def hours(self) -> hours_module.Hours:
        return hours_module.parse_hours(self.opening_hours)


class Contact(msgspec.Struct, forbid_unknown_fields=True, dict=True):
    id: Id
    name: str
    sites: list[str]  # site ids, or ["*"] for every site (technicians, head office)
    roles: list[Id]
    urls: list[str]  # apprise URLs: mailto://, json://, ntfy://, tgram://, slack:// ...
    active_hours: list[str] = []  # in each site's time zone; empty: always on duty

    @cached_property
    def hours(self) -> hours_module.Hours:
        return hours_module.parse_hours(self.active_hours)

    def serves(self, site: str) -> bool:
        return ALL_SITES in self.sites or site in self.sites


class Stage(msgspec.Struct, forbid_unknown_fields=True):
    after_minutes: Minutes = 0.0  # after the previous stage (the first: after the alert opened), if nobody acknowledged
    roles: list[Id] = []
    contacts: list[Id] = []


class Policy(msgspec.Struct, forbid_unknown_fields=True):
    id: Id
    stages: list[Stage]
    repeat: Annotated[int, msgspec.Meta(ge=0, le=10)] = 0  # run the whole list again at most this many times
    repeat_after_minutes: Minutes = 15.0


class _Rule(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind"):
    id: Id
    policy: Id
    sites: list[str] = []  # empty: every site
    enabled: bool = True
    severity: Severity = "high"
    # Unacknowledged this long: expired. Acknowledged this long: resolved. (Window, offline and
    # health alerts also resolve by themselves when their condition clears.)
    expire_after_minutes: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    resolve_after_minutes: Annotated[float, msgspec.Meta(gt=0)] = 240.0

    def applies_to(self, site: str) -> bool:
        return self.enabled and (not self.sites or site in self.sites)


ResponseOn = Literal["negative", "help", "answer"]
ResponseScope = Literal["response", "device", "site"]

#: The scopes each ``on`` allows, the first its default. A help request is one customer waiting
#: at the kiosk: each is its own incident, so its alert is per response (staff are told for each;
#: at device scope a second customer would attach to the first one's acknowledged alert, hear
#: "waiting", and nobody would be told). Unhappy customers and chosen answers report a condition
#: at the kiosk (or the site) that one person fixes: per device by default, per response allowed
#: (a site whose staff approach every unhappy customer, e.g. a survey without a help offer).
RESPONSE_SCOPES: dict[str, tuple[str, ...]] = {
    "help": ("response",),
    "negative": ("device", "response", "site"),
    "answer": ("device", "response", "site"),
}


class ResponseRule(_Rule, tag="response"):
    on: ResponseOn = "negative"
    question: str | None = None  # on = "answer": this question ...
    options: list[str] = []  # ... answered with one of these options
    scope: ResponseScope | None = None  # left out: the default for ``on`` (RESPONSE_SCOPES)
    max_age_minutes: Annotated[float, msgspec.Meta(gt=0)] = 10.0  # older (a drained backlog): the customer has gone

    def __post_init__(self) -> None:
        if self.scope is None:
            self.scope = RESPONSE_SCOPES[self.on][0]  # type: ignore[assignment]


class WindowRule(_Rule, tag="window"):
    percent: Annotated[float, msgspec.Meta(gt=0, le=100)] = 50.0
    minutes: Annotated[float, msgspec.Meta(ge=0)] = 15.0  # 0 is refused with its own message
    min_responses: Annotated[int, msgspec.Meta(ge=1)] = 4
    scope: Literal["device", "site"] = "site"


class OfflineRule(_Rule, tag="offline"):
    after_minutes: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    severity: Severity = "normal"


class HealthRule(_Rule, tag="health"):
    disk_free_mb: Annotated[int, msgspec.Meta(ge=0)] = 200  # below: alert (0 switches it off)
    backlog_age_minutes: Annotated[float, msgspec.Meta(ge=0)] = 30.0  # oldest unsent answer older: the backlog is not draining (0: off)
    refused: bool = True  # the fleet refused answers that the kiosk keeps on its card
    severity: Severity = "normal"


Rule = ResponseRule | WindowRule | OfflineRule | HealthRule


class Notifications(msgspec.Struct, forbid_unknown_fields=True):
    public_url: str = "http://localhost:8080"  # where staff's phones reach the fleet's web pages (the ack link)
    send_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 15.0
    senders: Annotated[int, msgspec.Meta(ge=1, le=16)] = 2  # sends in parallel (each a child process)
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 12
    retry_first_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    retry_max_seconds: Annotated[float, msgspec.Meta(gt=0)] = 600.0
    link_valid_minutes: Annotated[float, msgspec.Meta(gt=0, le=7 * 24 * 60)] = 120.0


class EscalationConfig(msgspec.Struct, forbid_unknown_fields=True, dict=True):
    sites: list[Site] = []
    contacts: list[Contact] = []
    policies: list[Policy] = []
    rules: list[Rule] = []
    notifications: Notifications = msgspec.field(default_factory=Notifications)

    @cached_property
    def site_by_id(self) -> dict[str, Site]:
        return {site.id: site for site in self.sites}

    @cached_property
    def policy_by_id(self) -> dict[str, Policy]:
        return {policy.id: policy for policy in self.policies}

    @cached_property
    def rule_by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}

    def site(self, site_id: str) -> Site:
        """The site's settings; a site the registry knows but the config does not gets the defaults."""
        return self.site_by_id.get(site_id) or Site(id=site_id if re.match(r"^[a-z0-9]", site_id or "") else "unknown", name=site_id)

    def contacts_for(self, site_id: str) -> list[Contact]:
        return [contact for contact in self.contacts if contact.serves(site_id)]


class EscalationConfigError(ConfigProblems):
    """The config has problems; ``problems`` lists every one, ``str()`` shows them all."""


_HINTS = {
    "id": 'a short lowercase name such as "kadikoy-1"',
    "time_zone": 'an IANA time zone such as "Europe/Istanbul"',
    "language": '"tr" or "en"',
    "percent": "a share of negative responses from 1 to 100",
    "minutes": "a window length in minutes, more than 0",
    "min_responses": "a whole number of responses, 1 or more",
    "urls": 'a list of apprise URLs such as ["mailto://user:pass@example.com", "json://hooks.example.com/alerts"]',
    "sites": 'a list of site ids, or ["*"] for every site',
    "roles": 'a list of role names such as ["staff", "shift-lead"]',
    "scope": '"response" (one alert per customer), "device" (per kiosk) or "site"; a window: "device" or "site"',
}


def load_file(path: str | Path, other_sections: Iterable[str] = ()) -> EscalationConfig:
    """Read and check a fleet.toml; *other_sections* are top-level keys other parts own (web, store ...)."""
    path = Path(path)
    source = str(path)
    try:
        document = read_document(path, EXAMPLE_PATH.name)
    except ConfigProblems as exc:
        raise EscalationConfigError(source, exc.problems) from None
    return check_document(document, source, other_sections)


def check_document(document: dict[str, Any], source: str = "fleet.toml", other_sections: Iterable[str] = ()) -> EscalationConfig:
    """The escalation config in *document*, or EscalationConfigError listing every problem."""
    other = set(other_sections)
    walker = Walker(_HINTS)
    for key in document:
        if key not in SECTIONS and key not in other:
            known = [*SECTIONS, *sorted(other)]
            walker.add(key, f'unknown section "{key}"{did_you_mean(key, known)}', f"remove it or correct the name; the sections are: {', '.join(known)}")
    config = walker.struct({k: v for k, v in document.items() if k in SECTIONS}, EscalationConfig, "")
    _References(walker, document).check()
    if walker.problems:
        raise EscalationConfigError(source, walker.problems)
    assert config is not None
    return config


class _References:
    """What the types cannot say: ids unique and resolvable, zones real, hours readable,
    windows longer than zero, URLs apprise can send to. Works on the raw document so that
    one section's problems do not hide another's."""

    def __init__(self, walker: Walker, document: dict[str, Any]) -> None:
        self.walker = walker
        self.add = walker.add
        self.sections = {name: [item for item in document.get(name, []) if isinstance(item, dict)] if isinstance(document.get(name, []), list) else [] for name in ("sites", "contacts", "policies", "rules")}

    def ids(self, section: str) -> list[str]:
        return [item["id"] for item in self.sections[section] if isinstance(item.get("id"), str)]

    def each(self, section: str):
        for index, item in enumerate(self.sections[section]):
            label = f"{section}[{index + 1}]" + (f' "{item["id"]}"' if isinstance(item.get("id"), str) else "")
            yield label, item

    def check(self) -> None:
        for section in self.sections:
            ids = self.ids(section)
            for label, item in self.each(section):
                if ids.count(item.get("id")) > 1:
                    self.add(label, f'the id "{item["id"]}" is used more than once in {section}', "give each one its own id")
        sites, contacts, policies = set(self.ids("sites")), set(self.ids("contacts")), set(self.ids("policies"))
        roles = {role for _, contact in self.each("contacts") for role in _strings(contact.get("roles"))}
        for label, site in self.each("sites"):
            self.zone(label, site.get("time_zone"))
            self.hours(f"{label} → opening_hours", site.get("opening_hours"))
            phone, url = site.get("fallback_phone"), site.get("fallback_qr_url")
            keys = {"phone": "fallback_phone", "url": "fallback_qr_url"}  # written into each kiosk's [help]: the kiosk's own rules
            for which, problem, fix in help_problems(phone if isinstance(phone, str) else "", url if isinstance(url, str) else ""):
                self.add(f"{label} → {keys[which]}", problem, fix)
        for label, contact in self.each("contacts"):
            self.refs(f"{label} → sites", contact.get("sites"), sites | {ALL_SITES}, "site", 'a site id from [[sites]], or "*" for every site')
            self.hours(f"{label} → active_hours", contact.get("active_hours"))
            urls = contact.get("urls")
            if isinstance(urls, list) and not urls:
                self.add(f"{label} → urls", "no URL: this contact cannot be notified", _HINTS["urls"])
            for index, url in enumerate(urls if isinstance(urls, list) else []):
                if isinstance(url, str):
                    self.apprise_url(f"{label} → urls[{index + 1}]", url)
        for label, policy in self.each("policies"):
            stages = policy.get("stages")
            if isinstance(stages, list) and not stages:
                self.add(f"{label} → stages", "the policy has no stages", "add at least one [[policies.stages]] with roles or contacts")
            for index, stage in enumerate(stages if isinstance(stages, list) else []):
                if not isinstance(stage, dict):
                    continue
                place = f"{label} → stages[{index + 1}]"
                if not stage.get("roles") and not stage.get("contacts"):
                    self.add(place, "the stage notifies nobody", 'add roles = ["..."] and/or contacts = ["..."]')
                self.refs(f"{place} → contacts", stage.get("contacts"), contacts, "contact", "a contact id from [[contacts]]")
                self.refs(f"{place} → roles", stage.get("roles"), roles, "role", "a role some contact has (contacts → roles)")
            if isinstance(policy.get("repeat"), int) and policy["repeat"] > 0 and policy.get("repeat_after_minutes", 15) == 0:
                self.add(f"{label} → repeat_after_minutes", "a window of 0: the policy would repeat at once, again and again", "use 1 or more minutes, or repeat = 0")
        for label, rule in self.each("rules"):
            self.refs(f"{label} → policy", [rule["policy"]] if isinstance(rule.get("policy"), str) else [], policies, "policy", "a policy id from [[policies]]")
            self.refs(f"{label} → sites", rule.get("sites"), sites, "site", "a site id from [[sites]] (or leave sites out for every site)")
            kind = rule.get("kind")
            if kind == "window" and rule.get("minutes") == 0:
                self.add(f"{label} → minutes", "a window of 0 minutes never holds a response", "use the length of the window in minutes, e.g. 15 (HappyOrNot's default)")
            if kind == "offline" and rule.get("after_minutes") == 0:
                self.add(f"{label} → after_minutes", "a window of 0: every pause between two messages would raise an alert", "use 5 or more minutes")
            if kind == "response" and rule.get("on") == "answer" and (not rule.get("question") or not rule.get("options")):
                self.add(label, 'on = "answer" needs the question and the options that raise it', 'add question = "what-went-wrong" and options = ["cleanliness"]')
            if kind == "response":
                self.response_scope(label, rule.get("on", "negative"), rule.get("scope"))

    def response_scope(self, label: str, on: Any, scope: Any) -> None:
        allowed = RESPONSE_SCOPES.get(on) if isinstance(on, str) else None
        if allowed is None or not isinstance(scope, str) or scope not in ("response", "device", "site") or scope in allowed:
            return  # no scope (the default), or a mistake the types report already
        if on == "help":
            self.add(
                f"{label} → scope",
                f'a help rule with scope = "{scope}" would fold every customer who asks for help at one {"kiosk" if scope == "device" else "site"} into one alert: '
                "once someone acknowledged the first, the next customer would be told staff are coming while nobody is told",
                'remove the scope line (a help request is its own alert: scope = "response")',
            )
        else:
            self.add(f"{label} → scope", f'on = "{on}" allows scope {" | ".join(allowed)}, not "{scope}"', f'use scope = "{allowed[0]}"')

    def refs(self, place: str, values: Any, known: set[str], what: str, fix: str) -> None:
        for value in _strings(values):
            if value not in known:
                self.add(place, f'unknown {what} "{value}"{did_you_mean(value, known)}', f"use {fix}" + (f"; known: {', '.join(sorted(known))}" if known else ""))

    def zone(self, place: str, name: Any) -> None:
        if isinstance(name, str):
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                self.add(f"{place} → time_zone", f'"{name}" is not a time zone', _HINTS["time_zone"])

    def hours(self, place: str, spans: Any) -> None:
        for index, span in enumerate(_strings(spans)):
            try:
                hours_module.parse_span(span)
            except hours_module.HoursError as exc:
                self.add(f"{place}[{index + 1}]", str(exc), f"write DAYS HH:MM-HH:MM, e.g. {hours_module.EXAMPLE}")

    def apprise_url(self, place: str, url: str) -> None:
        from fleet.escalation.targets import url_problem  # apprise is imported only when URLs are checked

        problem = url_problem(url)
        if problem:
            self.add(place, problem, "write an apprise URL: mailto://user:pass@example.com, json://host/path, ntfy://topic, tgram://bottoken/chatid ... (https://github.com/caronc/apprise/wiki)")


def _strings(values: Any) -> list[str]:
    return [value for value in values if isinstance(value, str)] if isinstance(values, list) else []


def shown(config: EscalationConfig) -> dict[str, Any]:
    """The config as plain data with every apprise URL masked (apprise's privacy form)."""
    from fleet.escalation.targets import shown_url

    data = msgspec.to_builtins(config)
    for contact in data["contacts"]:
        contact["urls"] = [shown_url(url) for url in contact["urls"]]
    return data
