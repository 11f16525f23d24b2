"""The port's EmailMessage as a standard library MIME message."""

from __future__ import annotations

import email.message
import email.utils

from musicconnect.ports.services import EmailMessage


def to_mime(message: EmailMessage, *, sender: str) -> email.message.EmailMessage:
    mime = email.message.EmailMessage()
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = email.utils.formatdate(usegmt=True)
    mime["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2] or None)
    mime.set_content(message.body)
    return mime
