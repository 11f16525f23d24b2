"""Operator commands about accounts: the admin role, and the embedded default's outbox."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from musicconnect.adapters.email import read_outbox
from musicconnect.domain.errors import DomainError
from musicconnect.entrypoints.cli.common import data_dir_option, load_settings
from musicconnect.platform import Platform

console = Console()


@click.group()
def admin() -> None:
    """Grant or revoke the admin role. Only here, on the server: nothing a client sends grants it."""


def _set_admin(email: str, data_dir: Path | None, *, grant: bool) -> None:
    platform = Platform.from_settings(load_settings(data_dir))
    try:
        for hook in platform.services.startup:
            hook()
        account = platform.accounts.set_admin(email, admin=grant)
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    finally:
        platform.close()
    console.print(f"{account.email} ({account.id}) is now {account.role.value}")
    console.print("It takes effect at the account's next sign-in or token refresh (within 15 minutes).")


@admin.command()
@click.argument("email")
@data_dir_option
def grant(email: str, data_dir: Path | None) -> None:
    """Make the account with EMAIL an admin."""
    _set_admin(email, data_dir, grant=True)


@admin.command()
@click.argument("email")
@data_dir_option
def revoke(email: str, data_dir: Path | None) -> None:
    """Give the account with EMAIL back its fan or artist role."""
    _set_admin(email, data_dir, grant=False)


@click.group()
def outbox() -> None:
    """Emails the embedded default wrote instead of sending (no SMTP host set)."""


@outbox.command(name="list")
@click.option("--to", "recipient", default=None, help="Only the messages to this address.")
@click.option("--full", is_flag=True, help="Print each message's body too.")
@data_dir_option
def list_outbox(recipient: str | None, full: bool, data_dir: Path | None) -> None:
    """List the outbox, oldest first."""
    folder = load_settings(data_dir).data_dir / "outbox"
    messages = [(p, m) for p, m in read_outbox(folder) if recipient is None or m.to == recipient]
    if full:
        for path, message in messages:
            console.rule(path.name)
            console.print(f"To: {message.to}\nSubject: {message.subject}\n\n{message.body}", markup=False)
        return
    table = Table("file", "to", "subject")
    for path, message in messages:
        table.add_row(path.name, message.to, message.subject)
    console.print(table)
