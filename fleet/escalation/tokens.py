"""Acknowledge-link tokens: signed, bound to one alert and one contact, expiring, single use.

The fleet both makes and checks them, so a shared secret is enough: HMAC-SHA256 over the
claims with a 32-byte key kept in the data directory (``load_or_create_key``, mode 0600). A
token is ``base64url(claims) "." base64url(mac)``, short enough for an SMS or a QR code.

``verify`` checks signature, purpose and expiry and changes nothing: the web's GET (which
chat apps prefetch for link previews) shows the confirmation page with it. ``redeem``
verifies and records the token's id in ``used_tokens`` in the caller's transaction: a token
redeemed once is refused ever after, so the POST that acknowledges cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import msgspec
import peewee

from fleet.escalation.tables import UsedToken
from fleet.store import writing

KEY_BYTES = 32


class TokenError(ValueError):
    """A token that must be refused; ``reason`` is forged | malformed | expired | purpose | used."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class Claims(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    purpose: str  # "ack" (later also "callback")
    alert_id: int
    contact: str
    expires: int  # epoch seconds
    nonce: str  # the token's id: what single use records


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Claims).decode


def new_claims(alert_id: int, contact: str, now: float, valid_minutes: float, purpose: str = "ack") -> Claims:
    return Claims(purpose=purpose, alert_id=alert_id, contact=contact, expires=int(now + valid_minutes * 60), nonce=secrets.token_urlsafe(12))


def sign(key: bytes, claims: Claims) -> str:
    body = _b64(_encode(claims))
    return f"{body}.{_b64(_mac(key, body))}"


def verify(key: bytes, token: str, now: float, purpose: str = "ack") -> Claims:
    """The token's claims if it is genuine, meant for *purpose* and unexpired; else TokenError."""
    body, dot, mac = (token or "").strip().partition(".")
    if not dot or len(token) > 512:
        raise TokenError("malformed", "this link is not complete (it may have been cut when copied)")
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        raise TokenError("malformed", "this link is not complete (it may have been cut when copied)") from None
    if not hmac.compare_digest(given, _mac(key, body)):
        raise TokenError("forged", "this link was not made by this fleet (or was changed)")
    try:
        claims = _decode(_unb64(body))
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise TokenError("malformed", "this link's contents cannot be read") from None
    if claims.purpose != purpose:
        raise TokenError("purpose", f"this link is for {claims.purpose}, not {purpose}")
    if now >= claims.expires:
        raise TokenError("expired", "this link has expired")
    return claims


def redeem(key: bytes, token: str, now: float, purpose: str = "ack") -> Claims:
    """verify, then use the token up (in the caller's transaction, if any): a second redeem is refused."""
    claims = verify(key, token, now, purpose)
    try:
        with writing():
            UsedToken.insert(token_id=claims.nonce, alert_id=claims.alert_id, contact=claims.contact, used_at=now).execute()
    except peewee.IntegrityError:
        raise TokenError("used", "this link has already been used") from None
    return claims


def link(base_url: str, token: str, path: str = "/ack") -> str:
    """The URL a notification carries: the web part serves GET (confirm) and POST (act) there."""
    return f"{base_url.rstrip('/')}{path}/{token}"


def load_or_create_key(path: Path) -> bytes:
    """The signing key at *path*, made (random, owner-only) the first time. Made aside and
    hard-linked into place, so two processes starting together end up with the same key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        spare = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(spare, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            spare.unlink()
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise ValueError(f"{path}: the link-signing key is {len(key)} bytes, not {KEY_BYTES}\n  fix: delete the file; the fleet makes a new one (links sent before stop working)")
    return key


def _mac(key: bytes, body: str) -> bytes:
    return hmac.new(key, body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
