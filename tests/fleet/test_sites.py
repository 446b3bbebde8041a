"""A kiosk's site must be a [[sites]] id when fleet.toml has sites: the check and its suggestions."""

from __future__ import annotations

import pytest

from fleet.escalation.config import Site
from fleet.sites import UnknownSite, check_site, fold

SITES = [Site(id="kadikoy", name="Kadıköy Akaryakıt"), Site(id="istanbul-sisli", name="İstanbul Şişli"), Site(id="izmir", name="İzmir Alsancak")]


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Kadıköy", "kadikoy"), ("KADIKÖY", "kadikoy"), ("İSTANBUL", "istanbul"), ("Istanbul", "istanbul"), ("ığüşöç ĞÜŞİÖÇ", "igusoc gusioc"), ("kadikoy", "kadikoy")],
)
def test_folding_reads_turkish_letters_as_ascii_ids_are_written(text, folded):
    assert fold(text) == folded, "I is i for an id (Turkish casing would make it ı, which no id has)"


def test_a_known_id_passes_and_without_sites_any_text_is_a_site():
    check_site("kadikoy", SITES)
    check_site("Eskişehir çıkış 2", [])


@pytest.mark.parametrize(("typed", "meant"), [("kadıkoy", "kadikoy"), ("Kadıköy", "kadikoy"), ("İstanbul Şişli", "istanbul-sisli"), ("IZMIR", "izmir"), ("izmır", "izmir")])
def test_an_unknown_site_is_refused_with_the_nearest_id_and_the_list(typed, meant):
    with pytest.raises(UnknownSite) as refused:
        check_site(typed, SITES)
    message = str(refused.value)
    assert f"did you mean {meant!r}?" in message and f"fix: --site {meant}" in message
    assert "one of the known sites: kadikoy (Kadıköy Akaryakıt), istanbul-sisli (İstanbul Şişli), izmir (İzmir Alsancak)" in message


def test_a_site_like_none_gets_no_guess():
    with pytest.raises(UnknownSite) as refused:
        check_site("ankara", SITES)
    assert "did you mean" not in str(refused.value) and "fix: --site ID with one of the known sites: kadikoy" in str(refused.value)
