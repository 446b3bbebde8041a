"""Re-dating responses recorded before a kiosk's clock was synchronised.

A Pi has no real-time clock: until NTP answers, its wall clock may be days or decades off,
but its monotonic clock is right within one boot. Each Upload carries the kiosk's clocks at
sending time, so a response made earlier in the *same boot* can be placed on a good
timeline: ``good_wall_now - (monotonic_now - monotonic_then)``.

``time_source`` tells an analyst how far to trust ``occurred_at``:

- ``device``: the kiosk's clock was synchronised when the customer answered;
- ``device-resync``: re-dated from the kiosk's own clock, synchronised by sending time;
- ``fleet-receipt``: re-dated from the fleet's clock at receipt (the kiosk never synced
  this boot; off by the message's time in transit: well under a second live, at most the
  5 minutes an Upload may wait in the broker for a fleet that is down, the kiosk's
  ``[fleet] upload_expiry_s``);
- ``unsynced``: made in an earlier boot that never synchronised; the kiosk's wall clock is
  all there is (the order of a device's responses is still right within that boot).
"""

from __future__ import annotations

from kiosk.protocol import ResponsePayload, SenderClock


def occurred_at(response: ResponsePayload, sent: SenderClock, received_at: float) -> tuple[float, str]:
    """When the customer finished, on the best clock available, and which clock that was."""
    if response.clock_synced:
        return response.finished.wall, "device"
    if response.boot_id != sent.boot_id or response.finished.monotonic > sent.monotonic:
        return response.finished.wall, "unsynced"
    age = sent.monotonic - response.finished.monotonic
    if sent.clock_synced:
        return sent.wall - age, "device-resync"
    return received_at - age, "fleet-receipt"
