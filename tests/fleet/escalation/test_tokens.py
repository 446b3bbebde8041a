"""Acknowledge-link tokens: genuine, bound, expiring, single use."""

from __future__ import annotations

import os

import pytest

from fleet.escalation import tokens
from fleet.escalation.tokens import TokenError
from tests.escalation_helpers import NOW


def make(key, alert_id=3, contact="ayse", valid=60):
    return tokens.sign(key, tokens.new_claims(alert_id, contact, NOW, valid))


def test_a_genuine_token_carries_its_alert_and_contact(key):
    claims = tokens.verify(key, make(key), NOW + 10)
    assert (claims.alert_id, claims.contact, claims.purpose, claims.expires) == (3, "ayse", "ack", int(NOW + 3600))
    assert tokens.link("https://fleet.example.com/", "abc") == "https://fleet.example.com/ack/abc"


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), "forged"),
        (lambda t: tokens.sign(b"x" * 32, tokens.new_claims(3, "ayse", NOW, 60)), "forged"),
        (lambda t: t.split(".")[0], "malformed"),
        (lambda t: "", "malformed"),
        (lambda t: "!!!." + t.split(".")[1], "forged"),
    ],
)
def test_forged_or_broken_tokens_are_refused(key, spoil, reason):
    with pytest.raises(TokenError) as caught:
        tokens.verify(key, spoil(make(key)), NOW)
    assert caught.value.reason == reason


def test_a_token_made_for_another_alert_cannot_be_edited_into_this_one(key):
    body, mac = make(key, alert_id=3).split(".")
    other_body = make(key, alert_id=4).split(".")[0]
    with pytest.raises(TokenError, match="not made by this fleet"):
        tokens.verify(key, f"{other_body}.{mac}", NOW)


def test_expired_and_wrong_purpose(key):
    with pytest.raises(TokenError) as caught:
        tokens.verify(key, make(key, valid=1), NOW + 61)
    assert caught.value.reason == "expired"
    callback = tokens.sign(key, tokens.new_claims(3, "ayse", NOW, 60, purpose="callback"))
    with pytest.raises(TokenError) as caught:
        tokens.verify(key, callback, NOW)
    assert caught.value.reason == "purpose"


def test_a_token_is_redeemed_once(store, key):
    token = make(key)
    assert tokens.redeem(key, token, NOW).alert_id == 3
    with pytest.raises(TokenError) as caught:
        tokens.redeem(key, token, NOW + 1)
    assert caught.value.reason == "used"
    assert tokens.verify(key, token, NOW + 2).alert_id == 3, "verify (the GET) changes nothing and still reads it"
    assert tokens.redeem(key, make(key), NOW).alert_id == 3, "another token for the same alert is its own"


def test_the_key_is_made_once_private_and_kept(tmp_path):
    path = tmp_path / "secrets" / "ack-link.key"
    first = tokens.load_or_create_key(path)
    assert len(first) == 32 and tokens.load_or_create_key(path) == first
    assert os.stat(path).st_mode & 0o777 == 0o600
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="delete the file"):
        tokens.load_or_create_key(path)
