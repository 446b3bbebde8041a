"""The contract between kiosks and the fleet: what both sides import, and nothing else of each other.

- ``protocol``: topics, payloads, limits, decoders of untrusted input (``docs/protocol.md``);
- ``survey``: the survey document and its rules (the fleet validates what it pushes with them);
- ``assignment``: signed survey assignments: what head office signs, how a kiosk verifies it;
- ``transport``: broker addresses, TCP_NODELAY, reconnect backoff;
- ``clock``: a moment on a clock-less board (wall, monotonic, synchronised);
- ``sync_engine``: what a kiosk sends and when (the fleet's simulator runs this very engine);
- ``deployment``: the kiosk config file the fleet writes, and where state lives;
- ``logs``: one structured log line format for every Nabız process.

These modules import the standard library and msgspec only (no pygame, gpiozero, peewee or
paho objects), so the fleet can import them on a server without a kiosk's dependencies;
``assignment`` imports ``cryptography`` too (Ed25519), a dependency of both sides.
``lint-imports`` (``make test``) keeps it so.
"""
