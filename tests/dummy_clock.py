"""A clock tests move by hand: the flow and the kiosk read time only through it."""

from kiosk.contract.clock import Instant


class FakeClock:
    def __init__(self, monotonic: float = 1000.0, wall: float = 1_790_000_000.0, synced: bool = True) -> None:
        self.monotonic = monotonic
        self.wall = wall
        self.synced = synced

    def now(self) -> Instant:
        return Instant(self.monotonic, self.wall, self.synced)

    def advance(self, seconds: float) -> Instant:
        self.monotonic += seconds
        self.wall += seconds
        return self.now()
