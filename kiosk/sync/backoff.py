"""Reconnect delays: exponential, capped, with jitter.

When a shop's router comes back, every kiosk behind it notices at once; when the fleet's
broker restarts, a thousand kiosks do. Without jitter they would all knock at the same
instant, again and again. "Equal jitter" keeps half of each delay fixed (so a kiosk never
hammers) and randomises the other half (so a crowd spreads out).
"""

from __future__ import annotations

import random
from typing import Callable


class Backoff:
    def __init__(self, first: float = 1.0, cap: float = 300.0, factor: float = 2.0, rand: Callable[[], float] = random.random) -> None:
        if not 0 < first <= cap:
            raise ValueError(f"need 0 < first ({first}) <= cap ({cap})")
        self.first = first
        self.cap = cap
        self.factor = factor
        self._rand = rand
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next attempt; each call doubles the ceiling up to the cap."""
        ceiling = min(self.cap, self.first * self.factor**self.attempts)
        self.attempts += 1
        return ceiling / 2 + self._rand() * ceiling / 2

    def give_up_quickly(self) -> None:
        """Jump to the cap: retrying a refused login every second helps nobody."""
        while self.first * self.factor**self.attempts < self.cap:
            self.attempts += 1

    def reset(self) -> None:
        self.attempts = 0
