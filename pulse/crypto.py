"""AES-256-GCM encryption at rest with a key ring from the environment (SPEC §7).

``settings.ENCRYPTION_KEYS`` (env ``PULSE_ENCRYPTION_KEYS``) lists ``id:key`` pairs,
comma-separated, each key 32 bytes in URL-safe base64::

    PULSE_ENCRYPTION_KEYS=k2:<new key>,k1:<old key>

The first key encrypts; any key of the ring decrypts, chosen by the id stored in the
blob. Rotation: put a new key first, run ``manage.py rotate_channel_keys`` (re-encrypts
every blob with it), then drop the old key.

Blob layout (version 1)::

    0x01 | len(key id) | key id (ASCII) | 12-byte random nonce | ciphertext || 16-byte tag

The header (version and key id) is authenticated together with the caller's
associated data (for channel secrets: the row id), so a blob copied to another row,
or relabelled with another key id, does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class DecryptionError(Exception):
    """The blob does not decrypt: wrong key, wrong associated data, or tampered."""


@dataclass(frozen=True)
class KeyRing:
    primary: str
    keys: dict[str, AESGCM]


def _decode_key(key_id: str, text: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(
            f"PULSE_ENCRYPTION_KEYS: key {key_id!r} is not URL-safe base64."
        ) from exc
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(
            f"PULSE_ENCRYPTION_KEYS: key {key_id!r} is {len(raw)} bytes; AES-256 needs {KEY_BYTES}."
        )
    return raw


@lru_cache(maxsize=8)
def parse_key_ring(value: str | tuple[str, ...]) -> KeyRing:
    """Parse ``id:key[,id:key...]``; raise ImproperlyConfigured on anything odd."""
    items = value if isinstance(value, tuple) else tuple(value.split(","))
    entries = [item.strip() for item in items if item.strip()]
    if not entries:
        raise ImproperlyConfigured(
            "PULSE_ENCRYPTION_KEYS is empty: set it to k1:<32 random bytes, URL-safe base64>."
        )
    keys: dict[str, AESGCM] = {}
    order: list[str] = []
    for entry in entries:
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise ImproperlyConfigured(
                "PULSE_ENCRYPTION_KEYS entries must look like id:key, the id made of "
                "letters, digits, '_', '.' or '-' (at most 64)."
            )
        if key_id in keys:
            raise ImproperlyConfigured(f"PULSE_ENCRYPTION_KEYS names key {key_id!r} twice.")
        keys[key_id] = AESGCM(_decode_key(key_id, encoded))
        order.append(key_id)
    return KeyRing(primary=order[0], keys=keys)


def key_ring() -> KeyRing:
    value: Any = getattr(settings, "ENCRYPTION_KEYS", "")
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = tuple(str(v) for v in value)
    return parse_key_ring(value)


def _header(key_id: str) -> bytes:
    kid = key_id.encode("ascii")
    return bytes((VERSION, len(kid))) + kid


def encrypt(plaintext: bytes, *, aad: bytes) -> bytes:
    ring = key_ring()
    header = _header(ring.primary)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + ring.keys[ring.primary].encrypt(nonce, plaintext, header + aad)


def _split(blob: bytes) -> tuple[bytes, str, bytes, bytes]:
    if len(blob) < 2 or blob[0] != VERSION:
        raise DecryptionError("not an encrypted blob of a known version")
    end = 2 + blob[1]
    if len(blob) < end + NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("encrypted blob is truncated")
    try:
        key_id = blob[2:end].decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecryptionError("encrypted blob has a malformed key id") from exc
    return blob[:end], key_id, blob[end : end + NONCE_BYTES], blob[end + NONCE_BYTES :]


def key_id_of(blob: bytes | bytearray | memoryview) -> str:
    """The id of the key that encrypted ``blob`` (rotation uses it to skip current blobs)."""
    return _split(bytes(blob))[1]


def decrypt(blob: bytes | bytearray | memoryview, *, aad: bytes) -> bytes:
    header, key_id, nonce, sealed = _split(bytes(blob))
    key = key_ring().keys.get(key_id)
    if key is None:
        raise DecryptionError(f"encrypted with key {key_id!r}, which is not in the key ring")
    try:
        return key.decrypt(nonce, sealed, header + aad)
    except InvalidTag as exc:
        raise DecryptionError(
            "ciphertext does not authenticate: wrong key, wrong associated data or tampered"
        ) from exc


def encrypt_json(obj: Any, *, aad: bytes) -> bytes:
    text = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return encrypt(text.encode("utf-8"), aad=aad)


def decrypt_json(blob: bytes | bytearray | memoryview, *, aad: bytes) -> Any:
    return json.loads(decrypt(blob, aad=aad).decode("utf-8"))
