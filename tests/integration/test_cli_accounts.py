"""`musicconnect admin grant|revoke EMAIL` and `musicconnect outbox list`, run on the embedded data
folder as an operator runs them on the server: the only way to admin, and the mail a verification
link was written to."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest
from click.testing import CliRunner

from musicconnect.domain.accounts import Role
from musicconnect.entrypoints.cli import main
from musicconnect.platform import Platform
from musicconnect.settings import Settings
from musicconnect.usecases.accounts import Register

pytestmark = pytest.mark.integration

PASSWORD: Final = "correct horse battery"


def _register(data_dir: Path, email: str, role: str) -> str:
    platform = Platform.from_settings(Settings(data_dir=data_dir))
    try:
        for hook in platform.services.startup:
            hook()
        return platform.accounts.register(Register(email, PASSWORD, role, email.partition("@")[0])).id
    finally:
        platform.close()


def _role(data_dir: Path, account_id: str) -> Role:
    platform = Platform.from_settings(Settings(data_dir=data_dir))
    try:
        with platform.services.uow() as uow:
            account = uow.accounts.get(account_id)
    finally:
        platform.close()
    assert account is not None
    return account.role


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_grant_and_revoke_change_the_role_on_the_server(tmp_path: Path) -> None:
    """Grant makes a fan admin (any case or spacing of the email); revoke gives back fan, or
    artist for an account with an artist profile."""
    data = tmp_path / "data"
    fan = _register(data, "ops@example.com", "fan")
    artist = _register(data, "nova@example.com", "artist")

    granted = _run("admin", "grant", " OPS@Example.com ", "--data-dir", str(data))
    assert granted[0] == 0, granted[1]
    assert "is now admin" in granted[1]
    assert _role(data, fan) is Role.ADMIN
    assert _run("admin", "grant", "nova@example.com", "--data-dir", str(data))[0] == 0
    assert _role(data, artist) is Role.ADMIN

    for email in ("ops@example.com", "nova@example.com"):
        revoked = _run("admin", "revoke", email, "--data-dir", str(data))
        assert revoked[0] == 0, revoked[1]
    assert (_role(data, fan), _role(data, artist)) == (Role.FAN, Role.ARTIST)


def test_granting_an_unknown_email_fails_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fan = _register(data, "fan@example.com", "fan")

    code, output = _run("admin", "grant", "nobody@example.com", "--data-dir", str(data))

    assert code != 0
    assert "no account with the email" in output
    assert _role(data, fan) is Role.FAN


def test_outbox_list_shows_the_verification_email_written_at_registration(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _register(data, "new@example.com", "fan")
    _register(data, "other@example.com", "fan")

    code, output = _run("outbox", "list", "--to", "new@example.com", "--full", "--data-dir", str(data))

    assert code == 0, output
    assert "To: new@example.com" in output
    assert "Confirm your email" in output
    assert "other@example.com" not in output
