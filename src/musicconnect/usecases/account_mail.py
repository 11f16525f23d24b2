"""Email about the account itself: verification, "you already have an account", password reset.

Links carry a random single-use token; only its SHA-256 is stored (``OneTimeTokens``), so a copy of
the store cannot be turned into working links. Each token expires, and taking it removes it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Final

import attrs

from musicconnect.domain.accounts import Account, normalise_email
from musicconnect.domain.errors import AuthenticationFailed, DomainError, Forbidden
from musicconnect.ports.services import Clock, EmailMessage, EmailSender, OneTimeTokens

log = logging.getLogger(__name__)

VERIFY: Final = "verify"
RESET: Final = "reset"
VERIFY_TTL: Final = timedelta(hours=48)
RESET_TTL: Final = timedelta(hours=1)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@attrs.frozen
class LinkTarget:
    """What a one-time token stands for: a purpose, an account, and the address it was sent to."""

    purpose: str
    account_id: str
    email: str

    def encode(self) -> str:
        return f"{self.purpose}\n{self.account_id}\n{self.email}"

    @classmethod
    def decode(cls, value: str) -> LinkTarget:
        purpose, account_id, email = value.split("\n")
        return cls(purpose, account_id, email)


@attrs.frozen
class AccountMail:
    """Composes and sends the account emails; bound once with its ports."""

    sender: EmailSender
    tokens: OneTimeTokens
    clock: Clock
    #: Where the links in emails point (the web app or the API behind its proxy).
    base_url: str = ""

    def _link(self, target: LinkTarget, ttl: timedelta) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens.put(token_digest(token), target.encode(), until=self.clock.now() + ttl)
        return token

    def _send(self, message: EmailMessage) -> None:
        try:
            self.sender.send(message)
        except DomainError as error:
            # The account work is done and committed; the person can ask for the email again.
            log.warning("could not send %r: %s", message.subject, error.detail)

    def send_verification(self, account: Account, email: str) -> None:
        """A link that proves ``email`` (the account's, or the one it is changing to) is theirs."""
        token = self._link(LinkTarget(VERIFY, account.id, email), VERIFY_TTL)
        self._send(
            EmailMessage(
                to=email,
                subject="Confirm your email for Music Connect",
                body=(
                    f"Hello {account.display_name},\n\nConfirm this address by opening\n"
                    f"{self.base_url}/verify-email?token={token}\n"
                    "in a browser, or from an app by sending this code to\n"
                    f"POST /auth/verify-email: {token}\n\n"
                    f"The link works once, for {VERIFY_TTL.total_seconds() // 3600:.0f} hours.\n"
                ),
            )
        )

    def send_already_registered(self, account: Account) -> None:
        """Someone tried to register this address again: tell its owner, not the caller."""
        self._send(
            EmailMessage(
                to=account.email,
                subject="You already have a Music Connect account",
                body=(
                    "Someone (perhaps you) tried to register this address again. You already have "
                    "an account: sign in, or reset your password if you forgot it.\n"
                ),
            )
        )

    def send_reset(self, account: Account) -> None:
        """A single-use password reset link. It proves the address like a verification does,
        which is why it may go to an address not yet verified."""
        token = self._link(LinkTarget(RESET, account.id, account.email), RESET_TTL)
        self._send(
            EmailMessage(
                to=account.email,
                subject="Reset your Music Connect password",
                body=(
                    "Reset your password by sending this code and your new password to\n"
                    f"POST {self.base_url}/auth/password-reset/confirm\n\ntoken={token}\n\n"
                    f"or open {self.base_url}/reset-password?token={token} in a browser.\n\n"
                    f"The link works once, for {RESET_TTL.total_seconds() // 60:.0f} minutes. "
                    "If you did not ask for it, ignore this email.\n"
                ),
            )
        )

    def send_notice(self, account: Account, subject: str, body: str) -> None:
        """Any other email: only to a verified address, so nobody mails a stranger through us."""
        if not account.email_verified:
            raise Forbidden("verify your email address first")
        self._send(EmailMessage(to=account.email, subject=subject, body=body))

    def redeem(self, token: str, purpose: str) -> LinkTarget:
        """The target of a token sent for ``purpose``, spending it; 401 when unknown, used or expired."""
        value = self.tokens.take(token_digest(token))
        if value is None:
            raise AuthenticationFailed("this link is invalid, used or expired")
        target = LinkTarget.decode(value)
        if target.purpose != purpose:
            raise AuthenticationFailed("this link is invalid, used or expired")
        return attrs.evolve(target, email=normalise_email(target.email))
