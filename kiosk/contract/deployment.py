"""How Nabız programs are installed: the kiosk config file the fleet writes, and where state lives.

``fleet device add`` writes a kiosk's whole config for the technician, and ``setup-pi.sh``
writes the same file for a kiosk without a fleet: one template, so the two never drift.
Both the kiosk and the fleet keep their state where systemd says (``StateDirectory``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import msgspec

#: A phone number as people write it: digits with spaces, dashes, dots, brackets, a leading +.
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{3,30}$")
PHONE_MIN_DIGITS = 5
#: A URL a QR code carries well at 800x480 (longer ones make the code dense and hard to scan).
URL_MAX_LENGTH = 200
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


def help_problems(fallback_phone: str, fallback_url: str) -> list[tuple[str, str, str]]:
    """The mistakes in a site's own phone number and web page, as (which, problem, fix); which is
    "phone" or "url". The kiosk checks its ``[help]`` with this, and the fleet checks a site's
    ``fallback_phone`` / ``fallback_qr_url`` with it before writing them into a kiosk config."""
    problems = []
    phone, url = fallback_phone, fallback_url
    if phone and (not _PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < PHONE_MIN_DIGITS):
        problems.append(("phone", f"{phone!r} is not a phone number", 'write it as customers dial it: digits, spaces, dashes or brackets, an optional leading +, e.g. "0212 555 01 23"'))
    if url and not _URL.match(url):
        problems.append(("url", f"{url!r} is not a web address", 'write the whole address, starting with https://, e.g. "https://example.com/iletisim"'))
    elif len(url) > URL_MAX_LENGTH:
        problems.append(("url", f"{len(url)} characters make a QR code too dense to scan from the screen", f"use an address of at most {URL_MAX_LENGTH} characters (a short link)"))
    return problems


def config_template(device_id: str, site: str = "", fleet: str = "", trusted_keys: Sequence[str] = (), fallback_phone: str = "", fallback_url: str = "", min_seq: int = 0) -> str:
    """The kiosk config every install starts from: ``setup-pi.sh`` writes it for a kiosk
    without a fleet, ``fleet device add`` with its *fleet* table (TOML text) appended, the
    public keys whose signed surveys the kiosk takes (*trusted_keys*, ``ed25519:…``: head
    office's current key and any it is rotating from), *min_seq* (the highest assignment
    sequence the fleet had issued to this device and superseded when the config was written, so a
    freshly imaged kiosk, with nothing saved yet, refuses an older signed assignment replayed to
    it) and the site's own phone number and web page (*fallback_phone*, *fallback_url*: the
    ``[help]`` table, from fleet.toml's [[sites]]).
    Every key: docs/operations.md."""
    quote = lambda text: msgspec.json.encode(text).decode()  # a JSON string is a TOML basic string
    listed = "".join(f"    {quote(key)},\n" for key in trusted_keys)
    if fallback_phone or fallback_url:
        lines = "".join(f"{key} = {quote(value)}\n" for key, value in (("fallback_phone", fallback_phone), ("fallback_url", fallback_url)) if value)
        help_table = f"[help]                                   # the site's own contact, shown when no colleague can be told (from fleet.toml [[sites]])\n{lines}\n"
    else:
        help_table = ""
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

{help_table}{fleet}"""


def service_data_dir(name: str) -> Path:
    """systemd's StateDirectory when run as a service, /var/lib/NAME as root, else the user's data home."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib") / name
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / name
