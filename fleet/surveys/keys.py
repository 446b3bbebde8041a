"""Head office's signing key, and the public keys kiosks trust.

The private key is an Ed25519 key in PKCS#8 PEM, ``survey-signing.key`` in the fleet's data
directory, mode 0600 from its first byte, optionally encrypted with a passphrase (given in
``$NABIZ_SURVEY_KEY_PASSPHRASE`` or typed when asked). Only ``fleet survey push`` and
``rollback`` (and ``fleet device add``, for a new kiosk at a site that already has a survey)
read it: they sign every assignment at push time and store the signed payloads, so the
long-running ``fleet serve`` never holds the key (docs/surveys.md says why).

Kiosks trust a list of public keys (``[survey] trusted_keys`` in the config ``fleet device
add`` writes): the current key's, plus every line of ``survey-trusted-keys.txt`` in the data
directory, so a key can be rotated (``fleet survey keygen --rotate`` keeps the old public key
there), as Mender's ``ArtifactVerifyKeys`` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.contract.assignment import KeyTextError, key_id, parse_public_key, public_key_text, raw_public_key

KEY_FILE = "survey-signing.key"
PUBLIC_FILE = "survey-signing.pub"
TRUSTED_FILE = "survey-trusted-keys.txt"
PASSPHRASE_ENV = "NABIZ_SURVEY_KEY_PASSPHRASE"


class SigningKeyError(ValueError):
    """The signing key cannot be made or used; the message says why and what to do."""


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    key_id: str
    public_text: str


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def generate(data_dir: Path, passphrase: str | None = None, rotate: bool = False) -> SigningKey:
    """A new key in *data_dir*. Refuses to overwrite one, unless *rotate*: then the old key is
    kept as ``survey-signing-<key id>.key`` and its public key stays trusted."""
    path = key_path(data_dir)
    if path.exists():
        if not rotate:
            raise SigningKeyError(
                f"{path} already exists: a new key would make every kiosk refuse what you push until each has a new config\n"
                "  fix: keep using it; to rotate, `fleet survey keygen --rotate` (the old public key stays trusted) and give kiosks new configs"
            )
        old = _public_text_of(path)
        retired = path.with_name(f"survey-signing-{key_id(parse_public_key(old).public_bytes_raw())}.key")
        with (data_dir / TRUSTED_FILE).open("a", encoding="utf-8") as handle:
            handle.write(f"{old}  # rotated out\n")
        path.rename(retired)
    elif rotate:
        raise SigningKeyError(f"no signing key in {data_dir} to rotate\n  fix: `fleet survey keygen` makes the first one")
    data_dir.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    encryption = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    key = _signing_key(private)
    (data_dir / PUBLIC_FILE).write_text(key.public_text + "\n", encoding="utf-8")
    return key


def load(data_dir: Path, ask: Callable[[], str] | None = None) -> SigningKey:
    """The signing key; *ask* is called for the passphrase when the key has one and
    ``$NABIZ_SURVEY_KEY_PASSPHRASE`` is not set (None: no one to ask, an error)."""
    path = key_path(data_dir)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"no signing key at {path}\n  fix: `fleet survey keygen` makes one (then `fleet device add` writes its public key into each kiosk's config)") from None
    except OSError as exc:
        raise SigningKeyError(f"cannot read the signing key {path}: {exc.strerror}\n  fix: run as the fleet's user") from None
    encrypted = b"ENCRYPTED" in pem
    passphrase = None
    if encrypted:
        passphrase = os.environ.get(PASSPHRASE_ENV)
        if passphrase is None:
            if ask is None:
                raise SigningKeyError(f"the signing key {path} has a passphrase\n  fix: give it in ${PASSPHRASE_ENV}, or run the command at a terminal to be asked")
            passphrase = ask()
    try:
        private = serialization.load_pem_private_key(pem, passphrase.encode() if passphrase is not None else None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"cannot open the signing key {path}: {'wrong passphrase' if encrypted else 'not a PEM private key'}\n  fix: check ${PASSPHRASE_ENV}, or restore the key file from your backup") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key\n  fix: `fleet survey keygen --rotate` makes one")
    return _signing_key(private)


def current_public_text(data_dir: Path) -> str | None:
    """The current key's public text (from the .pub file beside it: no passphrase needed), or None."""
    if not key_path(data_dir).exists():
        return None
    return _public_text_of(key_path(data_dir))


def trusted(data_dir: Path) -> list[str]:
    """Every public key kiosks should trust: the current one first, then the listed extra ones."""
    keys: list[str] = []
    current = current_public_text(data_dir)
    if current:
        keys.append(current)
    listed = data_dir / TRUSTED_FILE
    if listed.exists():
        for number, line in enumerate(listed.read_text(encoding="utf-8").splitlines(), start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                parse_public_key(text)
            except KeyTextError as exc:
                raise SigningKeyError(f"{listed}, line {number}: {exc}") from None
            if text not in keys:
                keys.append(text)
    return keys


def _public_text_of(path: Path) -> str:
    public = path.with_name(PUBLIC_FILE)
    try:
        text = public.read_text(encoding="utf-8").strip()
        parse_public_key(text)
        return text
    except (OSError, KeyTextError):
        raise SigningKeyError(f"{public} is missing or damaged (it holds the public half of {path.name})\n  fix: restore it from your backup, or `fleet survey keygen --rotate`") from None


def _signing_key(private: Ed25519PrivateKey) -> SigningKey:
    raw = raw_public_key(private)
    return SigningKey(private, key_id(raw), public_key_text(raw))
