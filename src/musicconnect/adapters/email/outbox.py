"""Emails written as ``.eml`` files to a folder: the embedded default, read with ``musicconnect outbox``."""

from __future__ import annotations

import email
import email.policy
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from musicconnect.adapters.email.compose import to_mime
from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.ports.services import EmailMessage


class OutboxEmailSender:
    """One file per message, named so that a listing sorts oldest first; written whole (a temp
    file renamed into place) and readable by the owner only, as emails carry sign-in links."""

    def __init__(self, folder: Path, *, sender: str = "Music Connect <no-reply@localhost>") -> None:
        self.folder = Path(folder)
        self._sender = sender

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.folder)!r})"

    def send(self, message: EmailMessage) -> None:
        data = to_mime(message, sender=self._sender).as_bytes(policy=email.policy.SMTP)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = self.folder / f".{name}.part"
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            partial.replace(self.folder / name)
        except OSError as error:
            raise ServiceUnavailable(f"the outbox folder is not writable: {error}") from error


def read_outbox(folder: Path) -> Sequence[tuple[Path, EmailMessage]]:
    """Every message in the outbox, oldest first."""
    found: list[tuple[Path, EmailMessage]] = []
    for path in sorted(Path(folder).glob("*.eml")):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = parsed.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        found.append((path, EmailMessage(to=str(parsed["To"]), subject=str(parsed["Subject"]), body=text)))
    return found
