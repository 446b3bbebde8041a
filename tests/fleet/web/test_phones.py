"""Phone numbers (pure): Turkish and international formats read alike, refusals name the
mistake, and a masked number never shows more than the country code and three digits."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.web.phones import PhoneError, from_e164, mask, mask_in_text, parse


@pytest.mark.parametrize(
    "typed, e164",
    [
        ("0532 123 45 67", "+905321234567"),
        ("05321234567", "+905321234567"),
        ("532 123 45 67", "+905321234567"),
        ("+90 (532) 123-45-67", "+905321234567"),
        ("0090 532 123 45 67", "+905321234567"),
        ("0212 123 45 67", "+902121234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+49 30 901820", "+4930901820"),
        ("  +1 202-555-0143 ", "+12025550143"),
    ],
)
def test_turkish_and_international_formats(typed, e164):
    assert parse(typed, "TR").e164 == e164


@pytest.mark.parametrize(
    "typed, reason",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 41, "too_long"),
        ("bana mail atın", "not_a_number"),
        ("+999 123 456 789", "country"),
        ("0532 123", "too_short"),
        ("12", "too_short"),
        ("0532 123 45 67 89", "too_long_number"),
        ("0999 999 99 99", "invalid"),
    ],
)
def test_each_mistake_has_its_reason(typed, reason):
    with pytest.raises(PhoneError) as refused:
        parse(typed, "TR")
    assert refused.value.reason == reason


def test_masking_keeps_the_country_code_the_first_digit_and_the_last_two():
    assert parse("0532 123 45 67", "TR").masked == "+90 5** *** ** 67"
    assert parse("+44 20 7946 0958", "TR").masked == "+44 2* **** **58"
    assert mask("5321234567") == "********67"


def test_numbers_inside_other_text_are_masked():
    text = "('INSERT ...', [7, '+905321234567', 1790000000.0]) Telefon: +90 532 123 45 67"
    assert mask_in_text(text) == "('INSERT ...', [7, '+90 5** *** ** 67', 1790000000.0]) Telefon: +90 5** *** ** 67"


REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


@settings(max_examples=150, deadline=None)
@given(region=st.sampled_from(REGIONS), kind=st.sampled_from([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]))
def test_every_countrys_example_number_reads_back_and_masks_to_five_digits_at_most(region, kind):
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None or not phonenumbers.is_valid_number(example):
        return
    written = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    phone = parse(written, "TR")
    assert phone == from_e164(phone.e164) and phone.e164 == phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    shown = phone.masked
    code = str(example.country_code)
    assert shown.startswith(f"+{code} ")
    visible = re.sub(r"\D", "", shown[len(code) + 2 :])
    assert len(visible) <= 3 and shown.endswith(written[-1]), shown
    assert len(shown) == len(phone.international), "the mask keeps the number's shape"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_a_number_or_a_reason_never_a_crash(typed):
    try:
        phone = parse(typed, "TR")
    except PhoneError as refused:
        assert refused.reason in {"empty", "too_long", "not_a_number", "country", "too_short", "too_long_number", "invalid"}
    else:
        assert phone.e164.startswith("+") and phone.e164[1:].isdigit()
