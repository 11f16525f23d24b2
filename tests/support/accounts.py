"""Account email for tests: an in-memory outbox, and following the links the outboxes hold."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from musicconnect.adapters.email import OutboxEmailSender, read_outbox
from musicconnect.adapters.memory import InMemoryEmailSender, InMemoryOneTimeTokens
from musicconnect.ports.services import Clock, EmailMessage, EmailSender
from musicconnect.usecases.account_mail import AccountMail

_TOKEN = re.compile(r"token=(\S+)")


def memory_mail(clock: Clock) -> AccountMail:
    """Account email into an in-memory outbox (``mail.sender.sent()``)."""
    return AccountMail(InMemoryEmailSender(), InMemoryOneTimeTokens(clock), clock)


def link_token(message: EmailMessage) -> str:
    """The single-use token of the link in an account email."""
    found = _TOKEN.search(message.body)
    assert found is not None, message.body
    return found.group(1)


def sent_to(sender: EmailSender, to: str) -> list[EmailMessage]:
    """What ``sender`` (the in-memory one or the outbox folder) has sent to ``to``, oldest first."""
    if isinstance(sender, InMemoryEmailSender):
        return sender.sent(to)
    if isinstance(sender, OutboxEmailSender):
        return [message for _, message in read_outbox(sender.folder) if message.to == to]
    raise TypeError(f"cannot read what {sender!r} sent")


def verify_email(http: Any, sender: EmailSender, email: str) -> None:
    """Follow the last link sent to ``email`` through the API (``http``: an httpx-style client)."""
    token = link_token(sent_to(sender, email.strip().lower())[-1])
    response = http.post("/auth/verify-email", json={"token": token})
    assert response.status_code == 204, response.text


def verify_from_outbox(http: Any, data_dir: Path, email: str) -> None:
    """Follow the last link a served API (embedded email default) wrote to its outbox for ``email``."""
    verify_email(http, OutboxEmailSender(data_dir / "outbox"), email)


def grant_admin(data_dir: Path, email: str, env: Mapping[str, str] | None = None) -> None:
    """`musicconnect admin grant EMAIL`, as the operator runs it on the server."""
    subprocess.run(
        [sys.executable, "-m", "musicconnect", "admin", "grant", email, "--data-dir", str(data_dir)],
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        timeout=60,
    )


#: The password every end-to-end test account uses.
E2E_PASSWORD = "correct horse battery"


def signed_in(http: Any, email: str, role: str) -> tuple[str, dict[str, str]]:
    """Register an account on a served API and sign in: (its id, its bearer headers)."""
    created = http.post(
        "/auth/register", json={"email": email, "password": E2E_PASSWORD, "role": role, "display_name": email}
    )
    assert created.status_code == 201, created.text
    token = http.post("/auth/login", json={"email": email, "password": E2E_PASSWORD}).json()["access_token"]
    return str(created.json()["id"]), {"authorization": f"Bearer {token}"}


@attrs.frozen
class SignedIn:
    """Someone signed in to a served API: their id and access token."""

    id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """The bearer header to send as them."""
        return {"authorization": f"Bearer {self.token}"}
