"""Certificates for the smoke: one local CA (trustme, on top of ``cryptography``) that
signs nginx's certificate and the webhook receiver's; clients and the stack trust only
that CA, so every TLS connection of the smoke is verified, none skipped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Certs:
    ca: Path  # the CA certificate: what clients and the stack trust
    server_cert: Path  # nginx: chain (leaf first)
    server_key: Path
    hook_pem: Path  # the webhook receiver: key, then chain, in one file


def make_certs(folder: Path) -> Certs:
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="Pulse smoke CA")
    certs = Certs(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server-key.pem",
        hook_pem=folder / "hook.pem",
    )
    ca.cert_pem.write_to_path(str(certs.ca))
    server = ca.issue_cert("127.0.0.1", "localhost")
    certs.server_cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(certs.server_key))
    certs.server_key.chmod(0o600)
    hook = ca.issue_cert("127.0.0.1", "localhost")
    hook.private_key_and_cert_chain_pem.write_to_path(str(certs.hook_pem))
    certs.hook_pem.chmod(0o600)
    return certs
