"""Which site a kiosk is registered at: a ``[[sites]]`` id of fleet.toml, when it has sites.

The registry's site is what ingest stamps on every response, and the escalation finds the
site's contacts, hours, language and wait by that string as a ``[[sites]]`` **id**
(``kadikoy``), never by its display name (``Kadıköy``). A kiosk registered under any other
text raises alerts that reach nobody. So when fleet.toml defines sites, ``fleet device add``
takes only their ids; without sites (no escalation configured) any text is a site.

A refused site gets a "did you mean" found by comparing folded text: lowercase, with Turkish
letters read as the ASCII ids are written (İ and I → i, ı → i, ş → s, ğ → g, ç → c, ö → o,
ü → u). Turkish casing (I → ı) is right for words and wrong for ids, which are ASCII: an id
``istanbul`` is what someone typing ``İSTANBUL`` or ``Istanbul`` means. Display names are
folded too, so ``Kadıköy`` suggests ``kadikoy``.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Sequence

from fleet.escalation.config import Site


class UnknownSite(ValueError):
    """The site is not a [[sites]] id; the message says which ones are, and the nearest."""


def fold(text: str) -> str:
    """*text* as an id would spell it: lowercase ASCII letters where Turkish has its own."""
    text = text.strip().replace("İ", "i").replace("I", "i").replace("ı", "i").lower()
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def check_site(site: str, sites: Sequence[Site]) -> None:
    """Refuse *site* unless it is one of *sites*' ids (any text when there are no sites)."""
    if not sites or site in {s.id for s in sites}:
        return
    folded: dict[str, str] = {}
    for known in sites:
        folded.setdefault(fold(known.id), known.id)
        folded.setdefault(fold(known.name), known.id)
    near = difflib.get_close_matches(fold(site), list(folded), n=3, cutoff=0.6)
    guesses = list(dict.fromkeys(folded[match] for match in near))
    hint = f"; did you mean {' or '.join(repr(g) for g in guesses)}?" if guesses else ""
    listing = ", ".join(f"{s.id} ({s.name})" for s in sites)
    raise UnknownSite(
        f"site {site!r} is not a [[sites]] id in fleet.toml{hint}\n"
        f"  the kiosk's site is how alerts find the site's contacts: under any other name they reach nobody\n"
        f"  fix: --site {guesses[0] if guesses else 'ID'} with one of the known sites: {listing}; or add a [[sites]] entry for it to fleet.toml"
    )
