"""The relay over TLS, as a trust's relay is: STARTTLS on smtp://, implicit TLS on smtps://,
with kmb signing in — against a real aiosmtpd holding a certificate kmb's client trusts."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.handoff.smtp import EmailSender, Relay, check_relay
from tests.mailservers import Inbox, _authenticator, free_port


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that this test's TLS clients trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * 30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # what OpenSSL's defaults trust
    return cert_path, key_path


class _TlsInbox(Inbox):
    def __init__(self) -> None:
        super().__init__()
        self.encrypted: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.encrypted.append(tls)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(params=["starttls", "implicit"])
def tls_relay(request: pytest.FixtureRequest, certificate: tuple[Path, Path]) -> Iterator[Any]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    inbox = _TlsInbox()
    port = free_port()
    tls: dict[str, Any] = (
        {"tls_context": context, "require_starttls": True}
        if request.param == "starttls"
        # aiosmtpd offers AUTH over implicit TLS only when told TLS need not be STARTTLS
        else {"ssl_context": context, "auth_require_tls": False}
    )
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=_authenticator, **tls
    )
    controller.start()
    scheme = "smtp" if request.param == "starttls" else "smtps"
    yield f"{scheme}://kmb:right@127.0.0.1:{port}", inbox
    controller.stop()


async def test_mail_goes_through_the_relay_encrypted_and_signed_in(
    tls_relay: Any, engine: Any
) -> None:
    url, inbox = tls_relay
    sender = EmailSender(engine.store, Relay.from_url(url), "kmb@trust.nhs.uk")
    msg = EmailMessage()
    msg["From"] = "kmb@trust.nhs.uk"
    msg["To"] = "library@trust.nhs.uk"
    msg["Subject"] = "[ENQ-2026-0001] test"
    msg.set_content("hello")
    result = await sender.deliver(msg, "<m@trust.nhs.uk>")
    assert result.ok, result.error
    assert inbox.encrypted == [True]
    assert inbox.messages[0]["Subject"] == "[ENQ-2026-0001] test"
    ok, said = await check_relay(Relay.from_url(url))  # what `kmb handoff check` prints
    assert ok and said.endswith("OK (TLS, signed in as kmb)"), said
