"""The kiosk's edge to the physical world: button panels, their LEDs and pin profiles.

Every panel (GPIO buttons, a desktop keyboard, a script on stdin) offers the same small
interface (``hardware.panel.Panel``), so the kiosk never knows which one it drives.
Nothing here touches a pin at import time.
"""
