"""Escalation: rules → alerts → notifications, the fleet's half of the return path.

    config     the escalation sections of fleet.toml, typed, every error reported at once (fleet.validate's walker)
    hours      weekly hours in a site's time zone (opening hours, contacts' duty hours)
    rules      PURE: new responses, window counts, device snapshots → alert intents / clears
    planner    PURE: an open alert + its policy + contacts + now → who to notify now, next wake-up
    tables     the store's tables (one migration in fleet.store)
    alerts     raise/attach, acknowledge, resolve, expire, list; the audit trail
    observe    the store reads the rules need (the tail: new responses, window tallies; device snapshots)
    messages   notification text in the site's language, with the acknowledge link
    tokens     signed, expiring, single-use acknowledge-link tokens
    targets    apprise URLs: validity, privacy form, timeouts; phone-number masking
    sender     one send through apprise in a child process, with a hard timeout
    notifier   the durable outbox: claim, send, retry with backoff, delivery log
    service    what the fleet calls: on_responses_stored, tick
    feed       follows the store's tail: newly stored responses → on_responses_stored, off ingest's path
    worker     the thread that runs tick and the notifier, never in ingest's way
"""
