"""Two kiosks with one device id: telling them apart from one kiosk that rebooted.

A copied config puts two kiosks on one login and client id. The broker lets each connection
take over the other's, so they knock each other off in turn, every second or two, and the
fleet saw one kiosk ``online`` with its answers merged (issue 7, defect 9). What gives them
away is the boot id in each status and health message: one kiosk's boot ids only ever move
forward (a reboot makes a new one, an old one never comes back), while two kiosks' alternate.

The rule (``conflicting_boots``): within ``WINDOW_S``, an earlier boot id that comes back after
another one is a *return*; ``RETURNS`` returns make a conflict. One return alone could be a
late message from before a reboot (a queued health report, a retained status replayed); a
second is two kiosks. ``record_boots`` keeps each device's recent boot ids in the store, so
the rule holds across batches and across ``--workers``, and warns once per conflict.
"""

from __future__ import annotations

import json
import logging

from fleet.store import Device

log = logging.getLogger(__name__)

#: How far back a boot id can return, and how long a device shows the conflict after the last one.
WINDOW_S = 600.0
RETURNS = 2
#: Boot-id runs kept per device: enough for RETURNS returns among three or four kiosks.
KEEP_RUNS = 16

#: One stretch of messages from one boot: (boot id, first seen, last seen).
Run = tuple[str, float, float]


def merge_runs(runs: list[Run], seen: list[tuple[float, str]], window_s: float = WINDOW_S) -> list[Run]:
    """*runs* with the sightings *seen* ((received at, boot id)) put in their place by time, so
    that batches stored out of order (two workers) still read in the order messages arrived.
    Neighbouring sightings of one boot make one run; runs that ended more than *window_s*
    before the newest sighting are dropped, and at most KEEP_RUNS kept."""
    points = [(first, boot_id) for boot_id, first, _ in runs] + [(last, boot_id) for boot_id, _, last in runs] + list(seen)
    merged: list[list] = []
    for at, boot_id in sorted(points):
        if merged and merged[-1][0] == boot_id:
            merged[-1][2] = at
        else:
            merged.append([boot_id, at, at])
    if not merged:
        return []
    newest = merged[-1][2]
    return [(boot_id, first, last) for boot_id, first, last in merged if last >= newest - window_s][-KEEP_RUNS:]


def conflicting_boots(runs: list[Run], returns_needed: int = RETURNS) -> frozenset[str]:
    """The boot ids taking turns under one device id, or an empty set when the runs are one
    kiosk's (each boot id once, in order)."""
    returns = 0
    involved: set[str] = set()
    earlier: set[str] = set()
    for index, (boot_id, *_) in enumerate(runs):
        if boot_id in earlier:
            returns += 1
            involved.update({boot_id, runs[index - 1][0]})
        earlier.add(boot_id)
    return frozenset(involved) if returns >= returns_needed else frozenset()


def fix(device_id: str) -> str:
    """What to do about a conflict: the copy keeps the password too, so the one that stays re-keys."""
    return f"give all but one a new id (fleet device add NEW-ID) and install its config; then `fleet device credentials {device_id}` for the one that keeps it"


def record_boots(seen: dict[str, list[tuple[float, str]]], window_s: float = WINDOW_S) -> list[str]:
    """Add this batch's sightings (device id → (received at, boot id) in arrival order) to the
    store and mark devices whose boot ids alternate; returns the devices newly in conflict."""
    if not seen:
        return []
    newly: list[str] = []
    query = Device.select(Device.device_id, Device.boot_runs, Device.id_conflict_at).where(Device.device_id.in_(list(seen)))
    for device in query:
        runs = merge_runs([tuple(run) for run in json.loads(device.boot_runs)] if device.boot_runs else [], seen[device.device_id], window_s)
        fields: dict = {Device.boot_runs: json.dumps(runs)}
        boots = conflicting_boots(runs)
        if boots:
            last = runs[-1][2]
            fields.update({Device.id_conflict_at: last, Device.id_conflict_boots: ",".join(sorted(boots))})
            if device.id_conflict_at is None or last - device.id_conflict_at > window_s:
                newly.append(device.device_id)
                log.warning(
                    "two or more kiosks use one device id: they knock each other off the broker and their answers are merged",
                    extra={"device": device.device_id, "boot_ids": ",".join(sorted(boots)), "fix": fix(device.device_id)},
                )
        Device.update(fields).where(Device.device_id == device.device_id).execute()
    return newly
