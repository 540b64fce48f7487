"""pulse.crypto: AES-256-GCM with a key ring, and key rotation of channel secrets."""

from __future__ import annotations

import base64
import os
import uuid
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from accounts.audit import Actor
from notifications import services
from notifications.models import Channel
from notifications.secrets import channel_secrets
from pulse import crypto, tenancy
from tests.conftest import Member


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


K1, K2 = new_key(), new_key()
RING_1 = f"k1:{K1}"
RING_2_1 = f"k2:{K2},k1:{K1}"
AAD = uuid.uuid4().bytes


@override_settings(ENCRYPTION_KEYS=RING_1)
def test_round_trip_with_a_fresh_nonce_each_time() -> None:
    first = crypto.encrypt(b"hook-url", aad=AAD)
    second = crypto.encrypt(b"hook-url", aad=AAD)
    assert first != second  # random nonce
    assert crypto.decrypt(first, aad=AAD) == b"hook-url"
    assert crypto.decrypt(memoryview(second), aad=AAD) == b"hook-url"
    assert first[:4] == b"\x01\x02k1" and len(first) == 4 + 12 + len(b"hook-url") + 16
    assert crypto.key_id_of(first) == "k1"
    blob = crypto.encrypt_json({"url": "https://x.test/é"}, aad=AAD)
    assert crypto.decrypt_json(blob, aad=AAD) == {"url": "https://x.test/é"}


@override_settings(ENCRYPTION_KEYS=RING_1)
def test_wrong_associated_data_does_not_decrypt() -> None:
    blob = crypto.encrypt(b"secret", aad=AAD)
    with pytest.raises(crypto.DecryptionError, match="does not authenticate"):
        crypto.decrypt(blob, aad=uuid.uuid4().bytes)


@override_settings(ENCRYPTION_KEYS=RING_1)
@pytest.mark.parametrize("where", [4, 10, 16, 18, -1])  # nonce, nonce, ciphertext, ..., tag
def test_any_flipped_bit_is_detected(where: int) -> None:
    blob = bytearray(crypto.encrypt(b"secret!", aad=AAD))
    blob[where] ^= 0x01
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(bytes(blob), aad=AAD)


@override_settings(ENCRYPTION_KEYS=RING_1)
def test_malformed_blobs_are_decryption_errors() -> None:
    blob = crypto.encrypt(b"secret", aad=AAD)
    for bad in (b"", b"\x02" + blob[1:], blob[:20], b"\x01\x02k9" + blob[4:]):
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(bad, aad=AAD)


def test_a_blob_of_a_key_that_left_the_ring_says_so() -> None:
    with override_settings(ENCRYPTION_KEYS=RING_1):
        blob = crypto.encrypt(b"secret", aad=AAD)
    with (
        override_settings(ENCRYPTION_KEYS=f"k2:{K2}"),
        pytest.raises(crypto.DecryptionError, match="'k1', which is not in the key ring"),
    ):
        crypto.decrypt(blob, aad=AAD)


def test_the_same_key_id_with_another_key_does_not_decrypt() -> None:
    with override_settings(ENCRYPTION_KEYS=RING_1):
        blob = crypto.encrypt(b"secret", aad=AAD)
    with (
        override_settings(ENCRYPTION_KEYS=f"k1:{K2}"),
        pytest.raises(crypto.DecryptionError, match="does not authenticate"),
    ):
        crypto.decrypt(blob, aad=AAD)


@pytest.mark.parametrize(
    ("ring", "message"),
    [
        ("", "is empty"),
        (" , ", "is empty"),
        (K1, "must look like id:key"),
        (f"k 1:{K1}", "must look like id:key"),
        ("k1:not*base64", "not URL-safe base64"),
        (f"k1:{base64.urlsafe_b64encode(os.urandom(16)).decode()}", "is 16 bytes"),
        (f"k1:{K1},k1:{K2}", "names key 'k1' twice"),
    ],
)
def test_a_malformed_key_ring_fails_loudly(ring: str, message: str) -> None:
    with (
        override_settings(ENCRYPTION_KEYS=ring),
        pytest.raises(ImproperlyConfigured, match=message),
    ):
        crypto.encrypt(b"x", aad=AAD)


def test_rotation_old_blobs_still_decrypt_and_new_ones_use_the_first_key() -> None:
    with override_settings(ENCRYPTION_KEYS=RING_1):
        old = crypto.encrypt(b"before", aad=AAD)
    with override_settings(ENCRYPTION_KEYS=RING_2_1):
        assert crypto.decrypt(old, aad=AAD) == b"before"
        new = crypto.encrypt(b"after", aad=AAD)
    assert crypto.key_id_of(new) == "k2"
    with override_settings(ENCRYPTION_KEYS=f"k2:{K2}"):
        assert crypto.decrypt(new, aad=AAD) == b"after"


def _slack(member: Member, url: str) -> Channel:
    with tenancy.org_context(member.org.id, user_id=member.user.id):
        return services.channel_create(
            actor=Actor(user=member.user),
            role=member.membership.role,
            data={"kind": "slack", "name": "ops", "secrets": {"url": url}},
        )


def test_rotate_channel_keys_moves_every_org_to_the_new_key(
    owner: Member, outsider: Member
) -> None:
    with override_settings(ENCRYPTION_KEYS=RING_1):
        alpha = _slack(owner, "https://hooks.slack.com/services/A/" + "a" * 24)
        beta = _slack(outsider, "https://hooks.slack.com/services/B/" + "b" * 24)
        urls = {c.id: channel_secrets(c)["url"] for c in (alpha, beta)}
        with tenancy.org_context(owner.org.id):
            services.channel_create(
                actor=Actor(user=owner.user),
                role=owner.membership.role,
                data={"kind": "email", "name": "no secrets", "config": {"to": ["a@b.test"]}},
            )

    with override_settings(ENCRYPTION_KEYS=RING_2_1):
        out = StringIO()
        call_command("rotate_channel_keys", stdout=out)
        assert "2 of 2 channel(s) re-encrypted with key 'k2'" in out.getvalue()
        # Running it again finds nothing left to do.
        out = StringIO()
        call_command("rotate_channel_keys", stdout=out)
        assert "0 of 2" in out.getvalue()

    # The old key can go: everything decrypts with k2 alone, under the same row ids.
    with override_settings(ENCRYPTION_KEYS=f"k2:{K2}"):
        for channel, member in ((alpha, owner), (beta, outsider)):
            with tenancy.org_context(member.org.id):
                stored = Channel.objects.get(id=channel.id)
            assert stored.secrets is not None and crypto.key_id_of(stored.secrets) == "k2"
            assert channel_secrets(stored) == {"url": urls[channel.id]}
    # Dropping the new key instead would lock them away; listings still work.
    with override_settings(ENCRYPTION_KEYS=RING_1), tenancy.org_context(owner.org.id):
        public = services.channel_public_config(Channel.objects.get(id=alpha.id))
    assert public["secrets_set"] == [] and public["secrets_unreadable"] is True


def test_secrets_are_bound_to_their_row(owner: Member) -> None:
    with override_settings(ENCRYPTION_KEYS=RING_1):
        first = _slack(owner, "https://hooks.slack.com/services/A/" + "a" * 24)
        second = _slack(owner, "https://hooks.slack.com/services/B/" + "b" * 24)
        # A blob copied onto another row (by a bug or an attacker with SQL) is refused.
        second.secrets = first.secrets
        with pytest.raises(crypto.DecryptionError):
            channel_secrets(second)
