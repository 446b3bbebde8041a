"""The escalation service: what the fleet calls. Wires the pure rules and planner to the store.

    on_responses_stored(responses)   from the response feed (``fleet.escalation.feed``): NEWLY
                                     stored responses, each once. Raises or attaches alerts and
                                     enqueues their first notifications in one transaction, then
                                     wakes the worker. Does no network I/O: it never waits on a sender.
    tick()                           every few seconds, from the worker: offline and health rules
                                     over the registry, windows that cleared (or that another
                                     process's traffic breached), due escalation steps, alerts
                                     too old, retention. Returns when it wants to run again.
    acknowledge_by_link(token, ...)  the web's POST: redeem the signed token and acknowledge, at once.

A window is counted only when it could have changed: a kiosk there got responses and a
negative one was seen there within the window. The count is what the store holds, every
worker's rows (``windows.Windows``: per-second tallies kept up to date from the store's tail,
not a read of the whole window).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from fleet.escalation import alerts, help, observe, rules, tokens
from fleet.escalation.config import EscalationConfig, ResponseRule, WindowRule
from fleet.escalation.counter import Touched, touch
from fleet.escalation.hours import is_within
from fleet.escalation.messages import render
from fleet.escalation.notifier import Queued, enqueue
from fleet.escalation.planner import ChainState, plan
from fleet.escalation.rules import Clear, Intent, NewResponse
from fleet.escalation.tables import ACTIVE_STATES, Alert, Notification, UsedToken
from fleet.escalation.targets import shown_url
from fleet.escalation.windows import Windows
from fleet.store import writing

log = logging.getLogger(__name__)

DAY = 86400.0
SEVERITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


class Escalation:
    def __init__(
        self,
        config: EscalationConfig,
        key: bytes,
        clock: Callable[[], float] = time.time,
        wake: Callable[[], None] = lambda: None,
        callback_link: help.CallbackLink | None = None,
        purges: Sequence[Callable[[float], object]] = (),
        windows: Windows | None = None,
        callback_roles: Sequence[str] = ("call-centre",),
    ) -> None:
        self.config = config
        self.key = key
        self.clock = clock
        self.wake = wake  # tells the notifier worker (and the help announcer) there is something to send
        self.callback_link = callback_link  # the kiosk's call-back QR link for an alert (None: no web pages)
        self.callback_roles = callback_roles  # who takes a call-back request ([web] callback_roles)
        self.purges = purges  # more retention to run with purge (the web's call-back numbers)
        self._recent_negative: dict[tuple[str, str], float] = {}  # (rule, scope) → newest negative this process saw
        self._purged_at = 0.0
        longest = max((rule.minutes * 60 for rule in config.rules if isinstance(rule, WindowRule) and rule.minutes > 0), default=0.0)
        self.windows = windows or Windows(longest)  # the counts of every window rule, from the store
        for contact in config.contacts:  # load apprise's plugins now: the first alert must not wait on it in ingest's path
            for url in contact.urls:
                shown_url(url)

    # --- newly stored responses (the feed) -------------------------------------------------------------------

    def on_responses_stored(self, responses: Sequence[NewResponse], touched: Touched | None = None) -> list[alerts.Raised]:
        """*responses*: newly stored, each handed once (the feed's: every response a response
        rule may take). *touched*: the window scopes that got countable responses since the
        last call, happy ones included, as (site, device or None, a negative among them): the
        windows that may have moved (the feed's tallies); None: those of *responses* (then they
        are all the new ones)."""
        countable = [response for response in responses if response.countable]
        if touched is None:
            touched = _touched_by(countable)
        if not countable and not touched:
            return []
        now = self.clock()
        intents = rules.response_intents(self.config, countable, now)
        queries = self._window_queries(touched, now)
        if queries:
            uuids: dict[str, list[str]] = {}
            for response in countable:
                for scope in (rules.scope_of("site", response.site, None), rules.scope_of("device", response.site, response.device_id)):
                    uuids.setdefault(scope, []).append(response.uuid)
            breached, _ = rules.window_verdicts(self.config, self.windows.count(queries, now), {scope: tuple(found) for scope, found in uuids.items()})
            intents += breached  # a window that holds no breach resolves on a tick, not here
        if not intents:
            return []
        with writing():
            raised = [(intent, result) for intent, result in ((intent, self._raise(intent, now)) for intent in intents) if result is not None]
            announced = self._announce_waiting(countable, raised, now)
        results = [result for _, result in raised]
        if announced or any(result.created for result in results):
            self.wake()
        return results

    def _announce_waiting(self, responses: Sequence[NewResponse], raised: list[tuple[Intent, alerts.Raised]], now: float) -> int:
        """Each customer who asked for help hears that staff are being told: one alert speaks
        for them (a help rule's, else the most severe response alert), and only one that is
        telling someone about them. An alert they merely attached to after someone acknowledged
        it (a negative rule per kiosk, in a fleet without a help rule) tells nobody: "waiting"
        would be a promise nobody keeps, so the kiosk hears nothing and shows the site's own
        contact when its wait ends. In the alerts' transaction."""
        written = 0
        for response in responses:
            if response.help_requested is not True:
                continue
            matching = [(intent, result) for intent, result in raised if intent.kind == "response" and response.uuid in intent.response_uuids]
            candidates = [(intent, result) for intent, result in matching if result.telling_staff]
            if not candidates:
                if matching:
                    log.warning(
                        "a customer asked for help but no alert tells anyone about them: the one they joined is already acknowledged",
                        extra={"device": response.device_id, "response": response.uuid, "alerts": sorted({result.alert_id for _, result in matching}), "fix": 'add a response rule with on = "help" (one alert per customer)'},
                    )
                continue
            told = {result.alert_id for _, result in candidates if Notification.select(Notification.id).where(Notification.alert == result.alert_id).exists()}
            intent, result = min(candidates, key=lambda pair: (pair[1].alert_id not in told, not self._is_help_rule(pair[0].rule), SEVERITY_ORDER.get(pair[0].severity, 9)))
            site = self.config.site(response.site)
            if result.alert_id in told:
                url = self.callback_link(result.alert_id, now) if self.callback_link else ""
                written += help.waiting(result.alert_id, response.device_id, response.uuid, now, site.help_wait_seconds, url)
            else:
                written += self._announce_nobody_told(intent, result.alert_id, response, now)
        return written

    def _announce_nobody_told(self, intent: Intent, alert_id: int, response: NewResponse, now: float) -> int:
        """The alert's first step told nobody (no contact serves the site, all are off duty, or
        the kiosk's site is no [[sites]] id): "staff are being told" would be a promise nobody
        keeps. The kiosk hears ``waiting`` with no wait, so it goes straight to what can happen:
        the call-back QR when a call-back contact is on duty and the web pages run, else the
        site's own phone or QR from its config's [help]. Logged with the fix, and audited."""
        url = self.callback_link(alert_id, now) if self.callback_link and self._call_back_on_duty(response.site, now) else ""
        if not help.waiting(alert_id, response.device_id, response.uuid, now, 0, url):
            return 0
        reason, fix = self._why_nobody(intent.rule, response.site, now)
        shown = "the call-back QR" if url else "the site's own phone or QR (the kiosk config's [help])"
        alerts.audit(alert_id, now, "announced", "system", "system", f"nobody could be told ({reason}); the kiosk shows {shown} at once")
        log.warning(
            "a customer asked for help but nobody could be told: %s; the kiosk shows %s instead of 'staff are being told'",
            reason,
            shown,
            extra={"site": response.site, "device": response.device_id, "alert": alert_id, "response": response.uuid, "fix": fix},
        )
        return 1

    def _call_back_on_duty(self, site_id: str, now: float) -> bool:
        site = self.config.site(site_id)
        wanted = set(self.callback_roles)
        return any(wanted & set(contact.roles) and is_within(contact.hours, site.zone, now) for contact in self.config.contacts_for(site_id))

    def _why_nobody(self, rule_id: str, site_id: str, now: float) -> tuple[str, str]:
        """Why the first step found nobody, and what the operator should change."""
        if site_id not in self.config.site_by_id:
            known = ", ".join(sorted(self.config.site_by_id)) or "none"
            return (
                f'the kiosk\'s site "{site_id}" is not a [[sites]] id in fleet.toml',
                f"register the kiosk under a [[sites]] id (fleet device add ID --site SITE, then fleet device credentials ID); known: {known}",
            )
        rule = self.config.rule_by_id.get(rule_id)
        policy = self.config.policy_by_id.get(rule.policy) if rule else None
        stage = policy.stages[0] if policy else None
        serving = [c for c in self.config.contacts_for(site_id) if stage is not None and (c.id in stage.contacts or set(c.roles) & set(stage.roles))]
        if not serving:
            return (
                f'no contact of site "{site_id}" has a role or id the first stage of policy "{policy.id if policy else "?"}" names',
                f'add a [[contacts]] entry with sites = ["{site_id}"] and one of the roles {stage.roles if stage else []}',
            )
        return (
            f'every contact the first stage names for site "{site_id}" is off duty ({", ".join(c.id for c in serving)})',
            "check their active_hours (in the site's time zone), or add a contact on duty then",
        )

    def _is_help_rule(self, rule_id: str) -> bool:
        rule = self.config.rule_by_id.get(rule_id)
        return isinstance(rule, ResponseRule) and rule.on == "help"

    def _window_queries(self, touched: Touched, now: float) -> list[rules.WindowQuery]:
        """The windows worth counting now: a touched scope of a window rule where a negative
        response came within the window (this one, or one seen earlier: a happy response can
        complete a breach, never start one)."""
        queries = []
        window_rules = [rule for rule in self.config.rules if isinstance(rule, WindowRule) and rule.minutes > 0]
        for scope, (site, device_id, negative) in touched.items():
            kind = "device" if device_id is not None else "site"
            for rule in window_rules:
                if rule.scope != kind or not rule.applies_to(site):
                    continue
                key = (rule.id, scope)
                if negative:
                    self._recent_negative[key] = now
                query = rules.window_query(rule, site, device_id, now)
                if self._recent_negative.get(key, -1.0) >= query.since:
                    queries.append(query)
        return queries

    # --- the periodic tick -----------------------------------------------------------------

    def tick(self) -> float | None:
        """Run everything time drives; returns the moment the next escalation step is due (or None)."""
        now = self.clock()
        active = {(row.rule, row.scope): row for row in Alert.select().where(Alert.state.in_(list(ACTIVE_STATES)))}
        intents, clears = rules.device_verdicts(self.config, observe.device_snapshots(), now)
        window_intents, window_clears = self._windows(active, now)
        with writing():
            for intent in intents + window_intents:
                if (intent.rule, intent.scope) not in active:  # still true: nothing to attach on a tick
                    self._raise(intent, now)
            for clear in clears + window_clears:
                if (clear.rule, clear.scope) in active:
                    alerts.resolve_active(clear.rule, clear.scope, now, clear.reason)
        self._close_stale(active.values(), now)
        due = Alert.select(Alert.id).where((Alert.state == "open") & (Alert.next_step_at <= now))
        for row in due:
            with writing():
                self._advance(row.id, now)
        if now - self._purged_at > 3600:
            self.purge(now)
            self._purged_at = now
        self.wake()
        upcoming = Alert.select(Alert.next_step_at).where((Alert.state == "open") & Alert.next_step_at.is_null(False)).order_by(Alert.next_step_at).first()
        return upcoming.next_step_at if upcoming else None

    def _windows(self, active: dict, now: float) -> tuple[list[Intent], list[Clear]]:
        window_rules = [rule for rule in self.config.rules if isinstance(rule, WindowRule) and rule.enabled and rule.minutes > 0]
        if not window_rules:
            return [], []
        queries = {}
        longest = max(rule.minutes for rule in window_rules) * 60
        for site, device_id in self.windows.negative_scopes(now - longest, now):
            for rule in window_rules:
                if rule.applies_to(site):
                    query = rules.window_query(rule, site, device_id, now)
                    queries[(rule.id, query.scope)] = query
        for (rule_id, scope), row in active.items():
            rule = self.config.rule_by_id.get(rule_id)
            if isinstance(rule, WindowRule) and row.kind == "window":
                queries[(rule_id, scope)] = rules.window_query(rule, row.site, row.device_id, now)
        return rules.window_verdicts(self.config, self.windows.count(list(queries.values()), now))

    def _close_stale(self, active_rows, now: float) -> None:
        for row in active_rows:
            rule = self.config.rule_by_id.get(row.rule)
            if rule is None:
                continue
            try:
                if row.state == "open" and now - row.opened_at > rule.expire_after_minutes * 60:
                    alerts.expire(row.id, now, f"nobody acknowledged it within {rule.expire_after_minutes:g} minutes")
                elif row.state == "acknowledged" and now - (row.acknowledged_at or row.opened_at) > rule.resolve_after_minutes * 60:
                    alerts.resolve(row.id, "system", now, "system", f"resolved {rule.resolve_after_minutes:g} minutes after it was acknowledged")
            except alerts.AlertStateError:
                pass  # closed by someone else meanwhile

    # --- raising and escalating ------------------------------------------------------------

    def _raise(self, intent: Intent, now: float) -> alerts.Raised | None:
        raised = alerts.raise_or_attach(intent, now)
        if raised is not None and raised.created:
            log.warning("alert raised", extra={"alert": raised.alert_id, "rule": intent.rule, "scope": intent.scope, "severity": intent.severity})
            self._advance(raised.alert_id, now)
        return raised

    def _advance(self, alert_id: int, now: float) -> int:
        """Run the alert's due escalation steps: claim them on the alert row, enqueue their
        notifications, audit them. Call inside a transaction. Returns notifications queued."""
        row = Alert.get_by_id(alert_id)
        rule = self.config.rule_by_id.get(row.rule)
        policy = self.config.policy_by_id.get(rule.policy) if rule else None
        if policy is None:
            Alert.update(next_step_at=None).where(Alert.id == alert_id).execute()
            return 0
        site = self.config.site(row.site)
        chain = ChainState(row.id, row.state, row.severity, row.opened_at, row.steps_done, row.last_step_at)
        steps = plan(chain, policy, site, self.config.contacts_for(row.site), now)
        if steps.steps_done == row.steps_done:
            Alert.update(next_step_at=steps.next_step_at).where(Alert.id == alert_id).execute()
            return 0
        claimed = Alert.update(steps_done=steps.steps_done, last_step_at=steps.last_step_at, next_step_at=steps.next_step_at).where((Alert.id == alert_id) & (Alert.steps_done == row.steps_done) & (Alert.state == "open")).execute()
        if not claimed:
            return 0  # another worker ran these steps
        facts = alerts.get_alert(alert_id).facts
        queued = []
        for send in steps.sends:
            token = tokens.sign(self.key, tokens.new_claims(alert_id, send.contact.id, now, self.config.notifications.link_valid_minutes))
            message = render(site, alert_id, row.kind, row.device_id, row.opened_at, facts, tokens.link(self.config.notifications.public_url, token))
            queued.append(Queued(alert_id, row.site, send.contact.id, send.url, message.title, message.body, send.idempotency_key))
        added = enqueue(queued, now)
        for step in range(row.steps_done, steps.steps_done):
            names = sorted({send.contact.name for send in steps.sends if send.step == step})
            alerts.audit(alert_id, now, "escalated", "system", "system", f"step {step + 1}: " + (", ".join(names) if names else "nobody on duty"))
        return added

    # --- the acknowledge link --------------------------------------------------------------

    def acknowledge_by_link(self, token: str, eta_minutes: int | None = None, comment: str = "") -> alerts.AlertRow:
        """The web's POST: the token is used up only if the acknowledgement is made."""
        now = self.clock()
        with writing():
            claims = tokens.redeem(self.key, token, now)
            contact = next((c for c in self.config.contacts if c.id == claims.contact), None)
            return alerts.acknowledge(claims.alert_id, contact.name if contact else claims.contact, now, "link", eta_minutes, comment)

    # --- retention ---------------------------------------------------------------------------

    def purge(self, now: float) -> int:
        """Delete notifications (their text and targets are personal data) older than their
        site's retention_days, and used tokens long expired. Alerts and their audit stay."""
        removed = 0
        done = Notification.state.in_(["delivered", "failed", "cancelled"])
        with writing():
            for site in {row.site for row in Notification.select(Notification.site).distinct()}:
                limit = now - self.config.site(site).retention_days * DAY
                removed += Notification.delete().where((Notification.site == site) & (Notification.created_at < limit) & done).execute()
            UsedToken.delete().where(UsedToken.used_at < now - 7 * DAY - self.config.notifications.link_valid_minutes * 60).execute()
            help.purge(now)
        for extra in self.purges:
            extra(now)
        return removed


def _touched_by(responses: Sequence[NewResponse]) -> Touched:
    """The window scopes *responses* fall in (when they are all the new ones), as the feed's tallies give them."""
    touched: Touched = {}
    for response in responses:
        touch(touched, response.site, response.device_id, response.negative)
    return touched
