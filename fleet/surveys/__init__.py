"""Survey push: head office's path from a new survey file to "on every screen, with proof".

- ``tables``: the versions, the rollouts and one assignment per device per rollout, in the store;
- ``versions``: add (validated by the kiosk's own rules, from the contract), list, show, diff;
- ``keys``: the Ed25519 signing key in the data directory, and the keys kiosks trust;
- ``planner``: pure: which devices to assign now, and whether to abort (waves, rate, start time);
- ``rollouts``: push and rollback (signed at push time), the per-device states, the status;
- ``service``: in ``fleet serve``, publishes what the planner releases and records the reports;
- ``commands``: the ``fleet survey`` command group.

docs/surveys.md tells the whole story with real output.
"""
