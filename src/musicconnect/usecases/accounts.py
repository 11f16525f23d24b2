"""Registering, logging in, refreshing and revoking tokens."""

from __future__ import annotations

from collections.abc import Collection

import attrs

from musicconnect.domain.accounts import (
    Account,
    Artist,
    Caller,
    Role,
    check_display_name,
    check_password,
    normalise_email,
)
from musicconnect.domain.errors import AuthenticationFailed, Conflict, InvalidInput
from musicconnect.domain.tiers import default_plans
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import (
    Clock,
    IdGenerator,
    PasswordHasher,
    TokenClaims,
    TokenDenylist,
    TokenIssuer,
    TokenPair,
)


@attrs.frozen
class Register:
    email: str
    password: str
    role: str
    display_name: str


def register(
    command: Register,
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    ids: IdGenerator,
    clock: Clock,
    admin_emails: Collection[str] = (),
) -> Account:
    """Create an account; an artist also gets a profile with the default three tiers."""
    email = normalise_email(command.email)
    check_password(command.password)
    name = check_display_name(command.display_name)
    if command.role not in {Role.ARTIST, Role.FAN}:
        raise InvalidInput("role must be 'artist' or 'fan'")
    role = Role.ADMIN if email in {e.strip().lower() for e in admin_emails} else Role(command.role)
    with uow:
        if uow.accounts.by_email(email) is not None:
            raise Conflict("an account with this email exists")
        account = Account(
            id=ids.new_id(),
            email=email,
            password_hash=hasher.hash(command.password),
            role=role,
            display_name=name,
            created_at=clock.now(),
        )
        uow.accounts.add(account)
        if role is Role.ARTIST:
            uow.artists.add(Artist(id=account.id, display_name=name, plans=default_plans()))
        uow.commit()
    return account


def login(
    email: str,
    password: str,
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    tokens: TokenIssuer,
) -> TokenPair:
    with uow:
        account = uow.accounts.by_email(email.strip().lower())
    # Same answer for an unknown email and a wrong password: no account enumeration.
    if account is None or not hasher.verify(password, account.password_hash):
        raise AuthenticationFailed("wrong email or password")
    return tokens.issue(subject=account.id, role=account.role)


def authenticate(access_token: str, *, tokens: TokenIssuer, denylist: TokenDenylist) -> Caller:
    """The caller behind a bearer token; revoked or invalid tokens are refused."""
    claims = tokens.decode(access_token, kind="access")
    if denylist.is_revoked(claims.token_id):
        raise AuthenticationFailed("token revoked")
    return Caller(id=claims.subject, role=Role(claims.role))


def refresh(refresh_token: str, *, tokens: TokenIssuer, denylist: TokenDenylist) -> TokenPair:
    """Trade a refresh token for a new pair; the old refresh token is spent (rotation)."""
    claims = tokens.decode(refresh_token, kind="refresh")
    # One atomic step: two requests racing with one refresh token get one new pair between them.
    if not denylist.spend(claims.token_id, until=claims.expires_at):
        raise AuthenticationFailed("token revoked")
    return tokens.issue(subject=claims.subject, role=claims.role)


def logout(
    access: TokenClaims,
    *,
    denylist: TokenDenylist,
    refresh_claims: TokenClaims | None = None,
) -> None:
    """Revoke the access token (and the refresh token, when given) until they would expire."""
    denylist.revoke(access.token_id, until=access.expires_at)
    if refresh_claims is not None and refresh_claims.subject == access.subject:
        denylist.revoke(refresh_claims.token_id, until=refresh_claims.expires_at)
