"""A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives for the tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from musicconnect.ports.services import EmailMessage
from tests.support.servers import free_port

USERNAME = "relay-user"
PASSWORD = "relay-password"


@attrs.define
class Received:
    """One message as the server got it: the envelope and the parsed message."""

    sender: str
    recipients: list[str]
    message: EmailMessage


class _Inbox:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.delay_s = delay_s

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        await asyncio.sleep(self.delay_s)  # a relay on a bad day takes its time to accept
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        body = parsed.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        with self.lock:
            self.received.append(
                Received(
                    sender=str(envelope.mail_from),
                    recipients=list(envelope.rcpt_tos),
                    message=EmailMessage(to=str(parsed["To"]), subject=str(parsed["Subject"]), body=text),
                )
            )
        return "250 Message accepted for delivery"


@attrs.define
class SmtpServer:
    host: str
    port: int
    inbox: _Inbox
    #: For a STARTTLS server: a client context that trusts its self-signed certificate.
    client_tls: ssl.SSLContext | None = None

    def messages(self, to: str) -> list[EmailMessage]:
        with self.inbox.lock:
            return [r.message for r in self.inbox.received if to in r.recipients]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.crt", folder / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    valid = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=valid)


@contextmanager
def smtp_server(
    folder: Path | None = None, *, starttls: bool = False, implicit_tls: bool = False, delay_s: float = 0.0
) -> Iterator[SmtpServer]:
    """A plain SMTP server; with ``starttls`` or ``implicit_tls`` (and a ``folder`` for its
    certificate) one that requires TLS (upgraded, or from the first byte as on port 465) and
    AUTH, as a provider's relay does; ``delay_s`` before accepting each message, as a slow relay."""
    inbox = _Inbox(delay_s)
    port = free_port()
    kwargs: dict[str, Any] = {}
    client_tls = None
    if starttls or implicit_tls:
        if folder is None:
            raise ValueError("a TLS server needs a folder for its certificate")
        cert, key = _self_signed(folder)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        client_tls = ssl.create_default_context(cafile=str(cert))
        kwargs = {"auth_required": True, "authenticator": _authenticate}
        if implicit_tls:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; here every byte is TLS already.
            kwargs |= {"ssl_context": server_tls, "server_hostname": "localhost", "auth_require_tls": False}
        else:
            kwargs |= {"tls_context": server_tls, "require_starttls": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox, client_tls)
    finally:
        controller.stop()
