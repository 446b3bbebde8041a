"""Nabız kiosk: the survey at the exit, answered with physical buttons, nothing lost.

Importing this package opens nothing (no display, no pins, no database): compose the
parts in ``kiosk.app`` and start them from the ``kiosk`` command.
"""

__version__ = "0.2.0"
