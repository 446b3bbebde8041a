"""The rollout planner: pure. Given the rollout's policy, its devices' states and the time, which
devices get their assignment now, and whether the rollout stops.

Like ``kiosk/flow.py``, it does no I/O: data in, a ``Decision`` out, so it is tested by
properties (``tests/fleet/surveys/test_planner.py``) and the service around it
(``fleet.surveys.service``) only reads the store, calls ``plan`` and publishes.

The policy, as ``fleet survey push`` takes it:

- ``start_at`` (``--at``): nothing is released before it.
- ``rate_per_min`` (``--rate N/min``): at most ``1 + N × minutes since start`` sent in all.
- ``waves`` (``--waves 1,10,50,100%``): cumulative shares of the targets. The first wave goes at
  once; wave *k* goes when every device of the waves before it has finished (applied, failed or
  refused), or ``wave_wait_s`` after the last of them was sent, so one kiosk that is switched off
  cannot hold a whole rollout for ever.
- ``abort_failed_pct`` and ``abort_min_devices`` (``--abort-if-failed P% --min-devices K``): once
  at least K devices have finished, if P % or more of them failed or were refused, the rollout
  stops: nothing more is released (the devices not yet sent keep their survey), and the reason says why.
- neither rate nor waves: every target at once.

Devices are released in their ``position`` order, so what has been released is always a prefix.

The per-device states follow AWS IoT Jobs' executions: ``pending`` → ``delivered`` → ``applied``,
or ``failed`` / ``refused`` with a reason; ``cancelled`` for one never sent (an aborted rollout, or
a newer rollout took the device). ``advance`` says which reported state moves a device on: only
forward, and never out of a final state, so a late or repeated report changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Ranks of the states: a report moves a device only to a higher rank.
RANK = {"pending": 0, "delivered": 1, "applied": 2, "failed": 2, "refused": 2, "cancelled": 2}
FINISHED = ("applied", "failed", "refused")
BAD = ("failed", "refused")


@dataclass(frozen=True)
class Policy:
    start_at: float
    rate_per_min: int | None = None
    waves: tuple[float, ...] | None = None  # cumulative percentages, ascending, the last 100
    wave_wait_s: float = 600.0
    abort_failed_pct: float | None = None
    abort_min_devices: int = 1


@dataclass(frozen=True)
class DeviceState:
    device_id: str
    position: int
    status: str = "pending"
    published_at: float | None = None  # None: not sent yet

    @property
    def released(self) -> bool:
        return self.published_at is not None


@dataclass(frozen=True)
class Decision:
    release: tuple[str, ...] = ()  # device ids to publish now, in position order
    abort: str | None = None  # the reason the rollout stops
    complete: bool = False  # every device has finished (or was cancelled): nothing more will happen
    next_at: float | None = None  # when time alone changes the answer (start, rate, a wave's wait)
    wave: int | None = None  # the wave now open (0-based), with waves


def advance(current: str, reported: str) -> str | None:
    """The state a device moves to when *reported* arrives in *current*, or None (no change)."""
    if current not in RANK or reported not in RANK or reported == "cancelled":
        return None
    if RANK[current] >= 2 or RANK[reported] <= RANK[current]:
        return None
    return reported


def wave_sizes(waves: Sequence[float], total: int) -> list[int]:
    """Cumulative device counts of each wave: at least one device per wave (when there are
    devices), never decreasing, the last one every device."""
    sizes, last = [], 0
    for share in waves:
        size = min(total, max(last, math.ceil(share * total / 100 - 1e-9), 1 if total else 0))
        sizes.append(size)
        last = size
    if sizes:
        sizes[-1] = total
    return sizes


def abort_reason(policy: Policy, devices: Sequence[DeviceState]) -> str | None:
    if policy.abort_failed_pct is None:
        return None
    finished = [d for d in devices if d.status in FINISHED]
    bad = [d for d in finished if d.status in BAD]
    if len(finished) < max(1, policy.abort_min_devices) or not bad:
        return None
    share = 100.0 * len(bad) / len(finished)
    if share + 1e-9 < policy.abort_failed_pct:
        return None
    failed = sum(d.status == "failed" for d in bad)
    return (
        f"{len(bad)} of {len(finished)} devices that finished failed or refused ({failed} failed, {len(bad) - failed} refused): "
        f"{share:.0f} % ≥ the {policy.abort_failed_pct:g} % allowed (--abort-if-failed, judged from {policy.abort_min_devices} devices)"
    )


def plan(policy: Policy, devices: Sequence[DeviceState], now: float) -> Decision:
    """What to do now. *devices*: every target of the rollout (any order)."""
    devices = sorted(devices, key=lambda d: d.position)
    reason = abort_reason(policy, devices)
    if reason is not None:
        return Decision(abort=reason)
    waiting = [d for d in devices if not d.released and d.status == "pending"]
    if not waiting:
        return Decision(complete=all(RANK[d.status] >= 2 for d in devices))
    if now < policy.start_at:
        return Decision(next_at=policy.start_at)
    total = len(devices)
    allowed, next_at, wave = total, None, None
    if policy.rate_per_min:
        elapsed = now - policy.start_at
        allowed = min(total, 1 + int(policy.rate_per_min * elapsed / 60 + 1e-9))
        if allowed < total:
            next_at = policy.start_at + allowed * 60 / policy.rate_per_min
    elif policy.waves:
        sizes = wave_sizes(policy.waves, total)
        wave = 0
        for k in range(1, len(sizes)):
            before = devices[: sizes[k - 1]]
            if not all(d.released or d.status != "pending" for d in before):
                break
            if all(RANK[d.status] >= 2 for d in before):
                wave = k
                continue
            sent = [d.published_at for d in before if d.published_at is not None]
            opens = max(sent) + policy.wave_wait_s if sent else now
            if now >= opens:
                wave = k
                continue
            next_at = opens
            break
        allowed = sizes[wave]
    if policy.rate_per_min:  # a budget of sends, whatever positions were sent before
        budget = max(0, allowed - sum(d.released for d in devices))
        release = tuple(d.device_id for d in waiting[:budget])
    else:  # waves are places in the order: the first `allowed` positions
        release = tuple(d.device_id for d in devices[:allowed] if not d.released and d.status == "pending")
    return Decision(release=release, next_at=next_at, wave=wave)
