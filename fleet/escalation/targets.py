"""Apprise URLs: are they valid, how to show them without their secrets, how to bound their time.

apprise is imported here and in the sender only (it is large, and the config check needs it
only when a file has URLs). Its privacy form hides passwords and tokens but not phone
numbers (a WhatsApp or SMS target keeps the number whole), so phone-like digit runs are
masked on top: a phone number is personal data and never goes into a log whole.
"""

from __future__ import annotations

import functools
import logging
import re
from urllib.parse import parse_qsl, urlsplit

from fleet.validate import did_you_mean

# "+90 555 123 45 67", "05551234567", "%2B905551234567": 7 or more digits, maybe spaced.
_PHONE = re.compile(r"(?:\+|%2B)?\d(?:[\s.\-]?\d){6,}")


def mask_phone_numbers(text: str) -> str:
    """Keep a phone number's first three and last two digits: enough to tell two apart."""

    def mask(match: re.Match[str]) -> str:
        found = match.group(0)
        digits = re.sub(r"\D", "", found.replace("%2B", ""))
        plus = "+" if found.startswith(("+", "%2B")) else ""
        return plus + digits[:3] + "*" * (len(digits) - 5) + digits[-2:]

    return _PHONE.sub(mask, text)


def url_problem(url: str) -> str | None:
    """Why apprise cannot send to *url*, or None when it can (apprise's own parser decides)."""
    import apprise

    if "://" not in url:
        return f"{url!r} is not a URL (no scheme://)"
    scheme = url.split("://", 1)[0].lower()
    with _quiet():
        known = apprise.Apprise.instantiate(url) is not None
    if known:
        return None
    from apprise.manager_plugins import NotificationManager

    schemes = NotificationManager().schemas()
    if scheme not in schemes:
        return f'"{scheme}://" is not a kind of URL apprise knows{did_you_mean(scheme, schemes)}'
    return f"apprise cannot read this {scheme}:// URL ({shown_url(url)}): a part is missing or malformed"


@functools.lru_cache(maxsize=1024)  # URLs come from the config: a handful, shown on every enqueue
def shown_url(url: str) -> str:
    """*url* with its secrets hidden, for logs, listings and the delivery log."""
    import apprise

    with _quiet():
        service = apprise.Apprise.instantiate(url)
    if service is None:
        return url.split("://", 1)[0] + "://…"
    shown = service.url(privacy=True)
    return mask_phone_numbers(shown.split("?", 1)[0])


def with_timeouts(url: str, connect_seconds: float, read_seconds: float) -> str:
    """*url* with apprise's own socket timeouts (cto, rto) set unless the URL sets them:
    without them a plugin may wait on a silent server far longer than our send timeout."""
    parts = urlsplit(url)
    present = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = [f"{key}={value:g}" for key, value in (("cto", connect_seconds), ("rto", read_seconds)) if key not in present]
    if not extra:
        return url
    separator = "&" if parts.query else "?"
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    base = url[: len(url) - len(fragment)] if fragment else url
    return base + separator + "&".join(extra) + fragment


class _quiet:
    """apprise logs every URL it cannot parse at ERROR; a config check reports them itself."""

    def __enter__(self) -> None:
        self.logger = logging.getLogger("apprise")
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)
