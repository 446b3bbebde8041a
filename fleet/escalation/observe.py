"""The store reads the rules need: window counts and the registry's view of each kiosk.

Kept apart from the pure rules (which take their results as data) and from ingest (which
only hands over what it newly stored). A window counts what the store holds, not what this
process saw, so several fleet workers sharing the traffic agree on it.
"""

from __future__ import annotations

import msgspec
from peewee import fn

from fleet.escalation.rules import DeviceSnapshot, WindowCount, WindowQuery
from fleet.store import Device, StoredResponse

_health = msgspec.json.Decoder(dict)


def _countable():
    """Answers a real customer gave: no misuse presses, no suspect response (maybe two
    customers; NULL: stored before the fleet kept the flag), no response without answers."""
    not_suspect = StoredResponse.suspect.is_null() | (StoredResponse.suspect == False)  # noqa: E712  (peewee builds SQL from ==)
    return (StoredResponse.misuse == False) & not_suspect & (StoredResponse.answers != "[]")  # noqa: E712


def count_windows(queries: list[WindowQuery], now: float) -> list[WindowCount]:
    counts = []
    for query in queries:
        where = _countable() & (StoredResponse.occurred_at >= query.since) & (StoredResponse.occurred_at <= now)
        where &= (StoredResponse.device_id == query.device_id) if query.device_id else (StoredResponse.site == query.site)
        total, negative = StoredResponse.select(fn.COUNT(StoredResponse.id), fn.SUM(StoredResponse.negative.cast("integer"))).where(where).scalar(as_tuple=True)
        counts.append(WindowCount(query, int(total or 0), int(negative or 0)))
    return counts


def negative_scopes(since: float, now: float) -> list[tuple[str, str]]:
    """(site, device) pairs with a negative response since *since*: the windows worth counting on a tick."""
    query = (
        StoredResponse.select(StoredResponse.site, StoredResponse.device_id)
        .where(_countable() & (StoredResponse.negative == True) & (StoredResponse.occurred_at >= since) & (StoredResponse.occurred_at <= now))  # noqa: E712
        .distinct()
        .tuples()
    )
    return list(query)


def device_snapshots() -> list[DeviceSnapshot]:
    """Every kiosk that is not revoked, with what its last health message said."""
    snapshots = []
    query = Device.select(Device.device_id, Device.site, Device.online, Device.last_seen, Device.last_health).where(Device.revoked_at.is_null())
    for device_id, site, online, last_seen, last_health in query.tuples():
        health = {}
        if last_health:
            try:
                health = _health.decode(last_health)
            except msgspec.DecodeError:
                health = {}
        snapshots.append(
            DeviceSnapshot(
                device_id=device_id, site=site, online=bool(online), last_seen=last_seen,
                disk_free_bytes=health.get("disk_free_bytes"), oldest_unsent_age_s=health.get("oldest_unsent_age_s"), refused=int(health.get("refused") or 0),
            )
        )
    return snapshots
