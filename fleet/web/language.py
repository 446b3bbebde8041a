"""Which language a page speaks. Pure.

The first that the pages speak, of: ``?lang=`` (the page's TR | EN switch), the browser's
Accept-Language in its order of preference, the site's language. A Turkish site's page opened
on an English phone is in English; a phone that asks for German gets the site's language.
"""

from __future__ import annotations

LANGUAGES = ("tr", "en")
_MAX_HEADER = 1000  # longer Accept-Language headers are cut, not parsed whole


def choose(query: str | None, accept_language: str | None, site_language: str) -> str:
    asked = _primary(query or "")
    if asked in LANGUAGES:
        return asked
    for tag in preferred(accept_language or ""):
        if tag in LANGUAGES:
            return tag
    return site_language if site_language in LANGUAGES else LANGUAGES[0]


def preferred(header: str) -> list[str]:
    """Accept-Language's primary tags, most wanted first (q=0 means "not this one")."""
    ranked = []
    for position, item in enumerate(header[:_MAX_HEADER].split(",")):
        tag, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = _primary(tag)
        if primary and quality > 0:
            ranked.append((-quality, position, primary))
    ranked.sort()
    return list(dict.fromkeys(primary for _, _, primary in ranked))


def _primary(tag: str) -> str:
    """ "tr-TR" → "tr"; "*" and anything not a letter tag → ""."""
    primary = tag.strip().split("-", 1)[0].lower()
    return primary if primary.isascii() and primary.isalpha() and len(primary) <= 8 else ""
