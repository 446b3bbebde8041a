"""Nabız fleet: the server behind the kiosks.

Importing this package opens nothing (no broker, no database, no sockets): ``fleet.app``
composes the parts from ``fleet.settings``' config; ``fleet.cli`` only parses. The kiosk never imports from here; both sides share ``kiosk.contract.protocol``.
"""

__version__ = "0.2.0"
