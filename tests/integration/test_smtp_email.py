"""Real emails through a real SMTP server (aiosmtpd on loopback): the adapter, and the account
flows that depend on it (verification, reset, email change) driven through the API."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.email import SmtpEmailSender, SmtpSecurity
from musicconnect.adapters.memory import FrozenClock
from musicconnect.bootstrap import Services, bootstrap
from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.entrypoints.http import create_app
from musicconnect.platform import Platform
from musicconnect.ports.services import EmailMessage, EmailSender
from musicconnect.settings import Settings
from musicconnect.usecases.account_mail import RESET_TTL
from tests.contract.email_contract import EmailSenderContract
from tests.support.accounts import link_token
from tests.support.servers import free_port, musicconnect_server
from tests.support.smtp_server import PASSWORD as RELAY_PASSWORD
from tests.support.smtp_server import USERNAME as RELAY_USER
from tests.support.smtp_server import SmtpServer, smtp_server

pytestmark = pytest.mark.integration

SENDER = "Music Connect <no-reply@musicconnect.test>"
PASSWORD = "correct horse battery"
#: Reset requests timed per kind of email.
RESETS = 5


@pytest.fixture(scope="module")
def server() -> Iterator[SmtpServer]:
    with smtp_server() as running:
        yield running


class TestSmtpEmailSender(EmailSenderContract):
    @pytest.fixture(autouse=True)
    def _server(self) -> Iterator[None]:
        # A server per test: its inbox holds only what this test sent.
        with smtp_server() as running:
            self.server = running
            yield

    def make_sender(self) -> EmailSender:
        return SmtpEmailSender(self.server.host, self.server.port, sender=SENDER, security=SmtpSecurity.NONE)

    def delivered(self, to: str) -> list[EmailMessage]:
        return self.server.messages(to)


def test_starttls_and_login_as_a_providers_relay_requires(tmp_path: Path) -> None:
    """Upgraded to TLS before AUTH; the message arrives; a wrong password is ServiceUnavailable."""
    with smtp_server(tmp_path, starttls=True) as relay:
        _assert_delivered_over(relay, SmtpSecurity.STARTTLS, subject="over tls")

        wrong = _signed_in_sender(relay, SmtpSecurity.STARTTLS, password="not it")
        with pytest.raises(ServiceUnavailable):
            wrong.send(EmailMessage(to="ada@example.com", subject="refused", body="x"))


def test_implicit_tls_and_login_as_on_port_465(tmp_path: Path) -> None:
    """TLS from the first byte (SMTPS), then AUTH: the message arrives; a sender that speaks
    plain SMTP to it gets ServiceUnavailable, not a hang."""
    with smtp_server(tmp_path, implicit_tls=True) as relay:
        _assert_delivered_over(relay, SmtpSecurity.TLS, subject="over smtps")

        plain = SmtpEmailSender(
            relay.host, relay.port, sender=SENDER, security=SmtpSecurity.NONE, timeout_s=2
        )
        with pytest.raises(ServiceUnavailable):
            plain.send(EmailMessage(to="ada@example.com", subject="refused", body="x"))


def _signed_in_sender(
    relay: SmtpServer, security: SmtpSecurity, *, password: str = RELAY_PASSWORD
) -> SmtpEmailSender:
    """A sender that logs in to the test relay, trusting its certificate."""
    return SmtpEmailSender(
        relay.host,
        relay.port,
        sender=SENDER,
        security=security,
        username=RELAY_USER,
        password=password,
        tls_context=relay.client_tls,
    )


def _assert_delivered_over(relay: SmtpServer, security: SmtpSecurity, *, subject: str) -> None:
    """A message sent with the relay's login over ``security`` arrives in its inbox."""
    _signed_in_sender(relay, security).send(EmailMessage(to="ada@example.com", subject=subject, body="hello"))
    assert [m.subject for m in relay.messages("ada@example.com")] == [subject]


def test_a_relay_that_is_down_is_service_unavailable() -> None:
    """Nothing listening: a clear ServiceUnavailable, quickly."""
    sender = SmtpEmailSender("127.0.0.1", free_port(), sender=SENDER, security=SmtpSecurity.NONE, timeout_s=2)
    with pytest.raises(ServiceUnavailable):
        sender.send(EmailMessage(to="ada@example.com", subject="s", body="b"))


# --- the account flows, through the API, with email over SMTP ---------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2031, 5, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def api(server: SmtpServer, clock: FrozenClock, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key="s" * 40,
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_security="none",
        email_from=SENDER,
        public_base_url="https://app.example",
    )
    services: Services = bootstrap(settings, clock=clock, hasher=ScryptPasswordHasher(n=2, r=1, p=1))
    with TestClient(create_app(Platform.of(services))) as client:
        yield client


def _register(api: TestClient[Litestar], email: str) -> str:
    response = api.post(
        "/auth/register",
        json={"email": email, "password": PASSWORD, "role": "artist", "display_name": "Nova"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _sign_in(api: TestClient[Litestar], email: str, password: str = PASSWORD) -> dict[str, str]:
    response = api.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_registration_emails_a_link_that_verifies_the_address(
    api: TestClient[Litestar], server: SmtpServer
) -> None:
    """The verification email arrives over SMTP with an absolute link; following it verifies once."""
    _register(api, "verify@smtp.test")
    [message] = server.messages("verify@smtp.test")
    assert message.subject == "Confirm your email for Music Connect"
    assert "https://app.example/verify-email?token=" in message.body
    headers = _sign_in(api, "verify@smtp.test")
    assert api.get("/me", headers=headers).json()["email_verified"] is False

    assert api.post("/auth/verify-email", json={"token": link_token(message)}).status_code == 204

    assert api.get("/me", headers=headers).json()["email_verified"] is True
    assert api.post("/auth/verify-email", json={"token": link_token(message)}).status_code == 401


def test_registering_a_known_address_emails_its_owner_not_a_link(
    api: TestClient[Litestar], server: SmtpServer
) -> None:
    """The second registration is answered like the first; the owner is told, with no link."""
    _register(api, "twice@smtp.test")
    _register(api, "twice@smtp.test")
    first, second = server.messages("twice@smtp.test")
    assert "token=" in first.body
    assert second.subject == "You already have a Music Connect account"
    assert "token=" not in second.body


def test_a_reset_link_works_once_and_not_after_it_expired(
    api: TestClient[Litestar], server: SmtpServer, clock: FrozenClock
) -> None:
    """Reset by the emailed link: the new password works, the old does not; the link is then
    spent; a second link left unused past its hour is refused."""
    _register(api, "reset@smtp.test")
    assert api.post("/auth/password-reset", json={"email": "reset@smtp.test"}).status_code == 202
    link = link_token(server.messages("reset@smtp.test")[-1])

    done = api.post("/auth/password-reset/confirm", json={"token": link, "password": "brand new secret"})
    assert done.status_code == 204, done.text
    _sign_in(api, "reset@smtp.test", "brand new secret")
    assert api.post("/auth/login", json={"email": "reset@smtp.test", "password": PASSWORD}).status_code == 401
    again = api.post("/auth/password-reset/confirm", json={"token": link, "password": "another new secret"})
    assert again.status_code == 401

    api.post("/auth/password-reset", json={"email": "reset@smtp.test"})
    late = link_token(server.messages("reset@smtp.test")[-1])
    clock.advance(RESET_TTL)
    expired = api.post("/auth/password-reset/confirm", json={"token": late, "password": "too late secret"})
    assert expired.status_code == 401


def test_an_email_change_is_verified_at_the_new_address(
    api: TestClient[Litestar], server: SmtpServer
) -> None:
    """PATCH /me with the current password mails the new address; its link moves the account."""
    _register(api, "old@smtp.test")
    headers = _sign_in(api, "old@smtp.test")
    changed = api.patch("/me", json={"email": "new@smtp.test", "current_password": PASSWORD}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == "old@smtp.test"

    [message] = server.messages("new@smtp.test")
    assert api.post("/auth/verify-email", json={"token": link_token(message)}).status_code == 204

    me = api.get("/me", headers=headers).json()
    assert (me["email"], me["email_verified"]) == ("new@smtp.test", True)
    _sign_in(api, "new@smtp.test")


def test_a_reset_for_a_known_email_answers_as_fast_as_for_an_unknown_one(tmp_path: Path) -> None:
    """Through a served API and a relay that takes 0.4 s per message: the reset answer does not
    wait for the email (it is sent after the answer), so the time of a 202 says nothing about
    who has an account. The emails still arrive, one per request."""
    with (
        smtp_server(delay_s=0.4) as slow,
        musicconnect_server(
            tmp_path / "data",
            env={
                "MUSICCONNECT_SECRET_KEY": "r" * 40,
                "MUSICCONNECT_SMTP_HOST": slow.host,
                "MUSICCONNECT_SMTP_PORT": str(slow.port),
                "MUSICCONNECT_SMTP_SECURITY": "none",
                "MUSICCONNECT_THROTTLE_SCALE": "1000",
            },
        ) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        body = {"email": "known@smtp.test", "password": PASSWORD, "role": "fan", "display_name": "K"}
        assert http.post("/auth/register", json=body).status_code == 201

        def timed(email: str) -> float:
            start = time.perf_counter()
            response = http.post("/auth/password-reset", json={"email": email})
            elapsed = time.perf_counter() - start
            assert response.status_code == 202, response.text
            return elapsed

        known, unknown = [], []
        for n in range(RESETS):
            known.append(timed("known@smtp.test"))
            unknown.append(timed(f"unknown{n}@smtp.test"))
        deadline = time.monotonic() + 30
        while len(slow.messages("known@smtp.test")) < 1 + RESETS and time.monotonic() < deadline:
            time.sleep(0.1)

    known_s, unknown_s = statistics.median(known), statistics.median(unknown)
    assert abs(known_s - unknown_s) < 0.2, f"known {known_s:.3f} s, unknown {unknown_s:.3f} s"
    subjects = [m.subject for m in slow.messages("known@smtp.test")]
    assert subjects.count("Reset your Music Connect password") == RESETS
    assert not any(slow.messages(f"unknown{n}@smtp.test") for n in range(RESETS))
