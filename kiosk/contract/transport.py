"""How both sides reach the broker: its address, small packets sent at once, reconnect delays.

The kiosk's sync, the fleet's link and the fleet's simulator all dial a broker; these are
the rules they share, so a broker URL means the same thing everywhere and a thousand kiosks
behind a restarted broker spread out the same way.

Reconnect delays are exponential, capped, with jitter. When a shop's router comes back,
every kiosk behind it notices at once; when the fleet's broker restarts, a thousand kiosks
do. Without jitter they would all knock at the same instant, again and again. "Equal
jitter" keeps half of each delay fixed (so a kiosk never hammers) and randomises the other
half (so a crowd spreads out).
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse


class AddressError(ValueError):
    """A broker address that cannot be dialled; the message says how to write it."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parsed = urlparse(url if "://" in url else f"mqtt://{url}")
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise AddressError(f"broker {url!r} is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]\n  fix: e.g. broker = \"mqtts://fleet.example.com:8883\"")
        tls = parsed.scheme == "mqtts"
        try:
            port = parsed.port or (8883 if tls else 1883)
        except ValueError:
            raise AddressError(f"broker {url!r} has a bad port\n  fix: a number from 1 to 65535") from None
        return cls(parsed.hostname, port, tls)


def no_delay(client: Any) -> None:
    """Send small packets at once (call on connect). paho leaves Nagle on: a publish right
    after a PUBACK, or an Ack after a quiet spell, waited ~40 ms for the broker's delayed ACK."""
    sock = client.socket()
    if sock is not None and hasattr(sock, "setsockopt"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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
