"""Emails through any provider's SMTP relay (smtplib), over STARTTLS, implicit TLS or plain."""

from __future__ import annotations

import enum
import smtplib
import ssl
from typing import Final

from musicconnect.adapters.email.compose import to_mime
from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.ports.services import EmailMessage

DEFAULT_TIMEOUT_S: Final = 10.0


class SmtpSecurity(enum.StrEnum):
    STARTTLS = "starttls"  # port 587: plain connection upgraded before anything is sent
    TLS = "tls"  # port 465: TLS from the first byte
    NONE = "none"  # a relay on the same host or a test server only


class SmtpEmailSender:
    """One connection per message: account emails are rare, and a held connection goes stale."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        security: SmtpSecurity = SmtpSecurity.STARTTLS,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._sender = sender
        self._security = SmtpSecurity(security)
        self._username, self._password = username, password
        self._timeout_s = timeout_s
        self._tls = tls_context or ssl.create_default_context()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._host!r}, {self._port}, security={self._security.value!r})"

    def _connect(self) -> smtplib.SMTP:
        if self._security is SmtpSecurity.TLS:
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout_s, context=self._tls)
        client = smtplib.SMTP(self._host, self._port, timeout=self._timeout_s)
        if self._security is SmtpSecurity.STARTTLS:
            client.starttls(context=self._tls)
        return client

    def send(self, message: EmailMessage) -> None:
        mime = to_mime(message, sender=self._sender)
        try:
            with self._connect() as client:
                if self._username:
                    client.login(self._username, self._password or "")
                client.send_message(mime)
        except (smtplib.SMTPException, OSError) as error:
            raise ServiceUnavailable(f"the SMTP relay did not take the email: {error}") from error
