"""Which language a page speaks (pure): ?lang=, then Accept-Language by preference, then the site's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.web.language import LANGUAGES, choose, preferred


@pytest.mark.parametrize(
    "query, header, site, expected",
    [
        ("en", "tr-TR", "tr", "en"),
        ("EN", None, "tr", "en"),
        ("de", "en-GB,en;q=0.9", "tr", "en"),
        (None, "de-DE,de;q=0.9,en;q=0.5,tr;q=0.7", "en", "tr"),
        (None, "de-DE", "en", "en"),
        (None, "en;q=0, tr;q=0.1", "en", "tr"),
        (None, "*", "en", "en"),
        (None, "", "tr", "tr"),
        (None, None, "fr", "tr"),
    ],
)
def test_choice(query, header, site, expected):
    assert choose(query, header, site) == expected


def test_preference_order_follows_q_then_position():
    assert preferred("fr;q=0.5, en-US, tr;q=0.8, en;q=0.1") == ["en", "tr", "fr"]
    assert preferred("tr;q=abc, en") == ["en"]


@given(query=st.one_of(st.none(), st.text(max_size=20)), header=st.one_of(st.none(), st.text(max_size=300)), site=st.text(max_size=5))
def test_always_a_language_the_pages_speak(query, header, site):
    assert choose(query, header, site) in LANGUAGES
