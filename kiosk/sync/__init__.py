"""The kiosk's link to the fleet: its outbox, published over MQTT until the fleet says *stored*.

- ``engine``: what to send and when (batches, acknowledgements, resends); no threads, no sockets.
- ``link``: one MQTT connection (paho-mqtt, MQTT v5, TLS when configured) that reconnects
  with exponential backoff and jitter, with a birth message and a Last Will.
- ``worker``: the thread that ties them to the outbox and sends health reports.

Nothing here runs on the kiosk's main loop: it only calls ``FleetSync.saved()``, a queue put.
"""
