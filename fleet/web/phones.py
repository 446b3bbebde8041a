"""Phone numbers a customer types on the call-back page: read, check, format, mask. Pure.

Google's libphonenumber (the ``phonenumbers`` port) knows every country's numbering plan, so
"0532 123 45 67", "+90 (532) 123-45-67" and "+44 20 7946 0958" are read alike and a number
too short or of a range no operator has is refused. Its metadata is updated with the plans,
which hand-written patterns never are. A number without a country code belongs to the
site's country (``region``).

A phone number is personal data: what goes into a log or a listing is ``masked`` (the
country code, the first digit and the last two: "+90 5** *** ** 67"), enough to tell two
requests apart and to match one to a caller, not enough to call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

MAX_TYPED = 40  # longer than any number written with spaces and a country code
# A number as we write it: E.164 ("+905321234567") or international ("+90 532 123 45 67").
_WRITTEN = re.compile(r"\+\d(?:[ \-]?\d){6,16}")


@dataclass(frozen=True)
class Phone:
    e164: str  # "+905321234567": what is stored and sent to the call centre
    international: str  # "+90 532 123 45 67": what the customer is shown back

    @property
    def masked(self) -> str:
        return mask(self.international)


class PhoneError(ValueError):
    """The typed text is not a number we can call; ``reason`` picks the page's message."""

    def __init__(self, reason: str) -> None:
        self.reason = reason  # empty | too_long | not_a_number | country | too_short | too_long_number | invalid
        super().__init__(reason)


_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "country",
    NumberParseException.NOT_A_NUMBER: "not_a_number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    NumberParseException.TOO_SHORT_NSN: "too_short",
    NumberParseException.TOO_LONG: "too_long_number",
}


def parse(typed: str, region: str) -> Phone:
    """The number in *typed* (a national number is read as *region*'s), or PhoneError."""
    text = (typed or "").strip()
    if not text:
        raise PhoneError("empty")
    if len(text) > MAX_TYPED:
        raise PhoneError("too_long")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneError(_PARSE_REASONS.get(exc.error_type, "not_a_number")) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(_why_invalid(number))
    return Phone(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        international=phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
    )


def _why_invalid(number: phonenumbers.PhoneNumber) -> str:
    """Too short, too long, or the right length but no such number: measured against the
    country's example number (libphonenumber calls a 6-digit Turkish number "possible": local
    numbers exist, but nobody can call one back from a call centre)."""
    example = phonenumbers.example_number(phonenumbers.region_code_for_country_code(number.country_code))
    if example is None:
        return "invalid"
    typed, expected = len(str(number.national_number)), len(str(example.national_number))
    return "too_short" if typed < expected else "too_long_number" if typed > expected else "invalid"


def from_e164(e164: str) -> Phone:
    """A stored number, formatted again (for the call centre's message and listings)."""
    number = phonenumbers.parse(e164, None)
    return Phone(e164=e164, international=phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL))


def mask(international: str) -> str:
    """ "+90 532 123 45 67" → "+90 5** *** ** 67": the country code, the first digit and the
    last two stay; every other digit becomes *; spaces and dashes stay where they were."""
    code, _, rest = international.partition(" ")
    if not rest:  # not in international form: hide all but the last two digits
        code, rest = "", international
    digits = sum(ch.isdigit() for ch in rest)
    out, seen = [], 0
    for ch in rest:
        if ch.isdigit():
            seen += 1
            keep = (code and seen == 1) or seen > digits - 2
            out.append(ch if keep else "*")
        else:
            out.append(ch)
    return (code + " " if code else "") + "".join(out)


def mask_in_text(text: str) -> str:
    """Every number written with a leading + in *text*, masked (for log records of other libraries)."""

    def masked(match: re.Match[str]) -> str:
        try:
            return from_e164("+" + re.sub(r"\D", "", match.group(0))).masked
        except phonenumbers.NumberParseException:
            digits = re.sub(r"\D", "", match.group(0))
            return "+" + digits[:2] + "*" * (len(digits) - 4) + digits[-2:]

    return _WRITTEN.sub(masked, text)
