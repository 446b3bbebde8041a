"""Re-dating responses whose kiosk clock was wrong: not yet synchronised, or not believable.

A Pi has no real-time clock: until NTP answers, its wall clock may be days or decades off,
but its monotonic clock is right within one boot. Each Upload carries the kiosk's clocks at
sending time, so a response made earlier in the *same boot* can be placed on a good
timeline: ``good_wall_now - (monotonic_now - monotonic_then)``.

A clock that says it is synchronised is believed only when it is *plausible*: not before
2020 (``EARLIEST_SYNCED_WALL``) and not ahead of the fleet's own clock at receipt by more than
``MAX_AHEAD_S``. A kiosk's clock cannot be later than the moment its message arrived; a
"synced" time in milliseconds or in the next century is a bug, and is re-dated as an
unsynchronised one would be. (The protocol already refuses times no clock gives: see
``docs/protocol.md``, "Clocks".)

``time_source`` tells an analyst how far to trust ``occurred_at``:

- ``device``: the kiosk's clock was synchronised (and plausible) when the customer answered;
- ``device-resync``: re-dated from the kiosk's own clock, synchronised by sending time;
- ``fleet-receipt``: re-dated from the fleet's clock at receipt (the kiosk's clock was not
  usable this boot; off by the message's time in transit: well under a second live, at most
  the 5 minutes an Upload may wait in the broker for a fleet that is down, the kiosk's
  ``[fleet] upload_expiry_s``);
- ``unsynced``: made in an earlier boot that never synchronised; the kiosk's wall clock is
  all there is (the order of a device's responses is still right within that boot);
- ``received``: as ``unsynced``, but that wall clock is later than the fleet's receipt, which
  cannot be: the fleet's receipt time, a bound (the answer is older by an unknown amount).
"""

from __future__ import annotations

from kiosk.contract.protocol import ResponsePayload, SenderClock

#: 2020-01-01T00:00:00Z: no synchronised kiosk clock reads earlier.
EARLIEST_SYNCED_WALL = 1_577_836_800.0
#: How far a kiosk's synchronised clock may run ahead of the fleet's: two NTP clients agree to
#: well under a second; ten minutes leaves room for a fleet whose own clock drifts.
MAX_AHEAD_S = 600.0


def plausible(wall: float, received_at: float) -> bool:
    """Whether a wall clock that says it is synchronised can be believed."""
    return EARLIEST_SYNCED_WALL <= wall <= received_at + MAX_AHEAD_S


def occurred_at(response: ResponsePayload, sent: SenderClock, received_at: float) -> tuple[float, str]:
    """When the customer finished, on the best clock available, and which clock that was."""
    if response.clock_synced and plausible(response.finished.wall, received_at):
        return response.finished.wall, "device"
    if response.boot_id != sent.boot_id or response.finished.monotonic > sent.monotonic:
        if response.finished.wall > received_at + MAX_AHEAD_S:
            return received_at, "received"
        return response.finished.wall, "unsynced"
    age = sent.monotonic - response.finished.monotonic
    if sent.clock_synced and plausible(sent.wall, received_at):
        return sent.wall - age, "device-resync"
    return received_at - age, "fleet-receipt"
