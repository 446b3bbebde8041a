"""How Nabız programs are installed: the kiosk config file the fleet writes, and where state lives.

``fleet device add`` writes a kiosk's whole config for the technician, and ``setup-pi.sh``
writes the same file for a kiosk without a fleet: one template, so the two never drift.
Both the kiosk and the fleet keep their state where systemd says (``StateDirectory``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import msgspec


def config_template(device_id: str, site: str = "", fleet: str = "", trusted_keys: Sequence[str] = (), min_seq: int = 0) -> str:
    """The kiosk config every install starts from: ``setup-pi.sh`` writes it for a kiosk
    without a fleet, ``fleet device add`` with its *fleet* table (TOML text) appended and the
    public keys whose signed surveys the kiosk takes (*trusted_keys*, ``ed25519:…``: head
    office's current key and any it is rotating from), and *min_seq*: the highest assignment
    sequence the fleet had issued to this device and superseded when the config was written, so a
    freshly imaged kiosk (nothing saved yet) refuses an older signed assignment replayed to it.
    Every key: docs/operations.md."""
    quote = lambda text: msgspec.json.encode(text).decode()  # a JSON string is a TOML basic string
    listed = "".join(f"    {quote(key)},\n" for key in trusted_keys)
    return f"""# Nabız kiosk configuration. Every key: docs/operations.md
device_id = {quote(device_id)}
site = {quote(site)}
data_dir = "/var/lib/nabiz-kiosk"
log_format = "text"
log_level = "INFO"

[panel]
kind = "gpio"
profile = "arcade-4"                     # or arcade-5, or the path of your own profile .toml

[screen]
mode = "fullscreen"                      # uses the display's own resolution

[outbox]
max_rows = 500000
reserve_mb = 100

[survey]
# file = "/etc/nabiz/survey.toml"        # a technician's survey, shown instead of any pushed one
#                                        # (default: the bundled Turkish/English survey)
# Surveys head office pushes are shown only when signed by one of these keys (fleet survey keys).
trusted_keys = [
{listed}]
# Assignments with this sequence or lower are refused as replays, even before the kiosk took any
# (written by `fleet device add` / `fleet device credentials`; docs/security.md, "Pushed surveys").
min_seq = {int(min_seq)}

{fleet}"""


def service_data_dir(name: str) -> Path:
    """systemd's StateDirectory when run as a service, /var/lib/NAME as root, else the user's data home."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib") / name
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / name
