"""Registering, logging in, refreshing and revoking tokens, and the operator's admin grants."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import attrs

from musicconnect.domain.accounts import (
    Account,
    Artist,
    Caller,
    Role,
    check_display_name,
    normalise_email,
    registrable_role,
    role_of_token,
)
from musicconnect.domain.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from musicconnect.domain.passwords import check_password
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
from musicconnect.usecases.account_mail import AccountMail

log = logging.getLogger(__name__)


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
    mail: AccountMail,
) -> Account:
    """Create a fan or artist account (an artist also gets a profile with the three default tiers)
    and send a verification email.

    The answer is the same whether or not the email is known, so registration cannot be used to
    find out who has an account: for a known email the owner is told by email instead, and the
    caller gets back a look-alike account that was never stored.
    """
    email = normalise_email(command.email)
    role = registrable_role(command.role)
    name = check_display_name(command.display_name)
    check_password(command.password, email=email)
    candidate = Account(
        id=ids.new_id(),
        email=email,
        # Hashed on both paths: the work dominates the time, so the time says nothing either.
        password_hash=hasher.hash(command.password),
        role=role,
        display_name=name,
        created_at=clock.now(),
    )
    existing = _add_account(candidate, uow=uow)
    if existing is not None:
        mail.send_already_registered(existing)
        return attrs.evolve(candidate, password_hash="")
    mail.send_verification(candidate, candidate.email)
    return candidate


def _add_account(account: Account, *, uow: UnitOfWork) -> Account | None:
    """Store ``account``; the account already holding its email instead, if there is one."""
    try:
        with uow:
            existing = uow.accounts.by_email(account.email)
            if existing is not None:
                return existing
            uow.accounts.add(account)
            if account.role is Role.ARTIST:
                uow.artists.add(
                    Artist(id=account.id, display_name=account.display_name, plans=default_plans())
                )
            uow.commit()
    except Conflict:
        # A registration racing ours took the email between our look and our write.
        with uow:
            existing = uow.accounts.by_email(account.email)
        if existing is None:
            raise
        return existing
    return None


#: One decoy per hasher, by identity (hashers need not be hashable); made on first use.
_DECOYS: dict[int, tuple[PasswordHasher, str]] = {}


def _decoy_hash(hasher: PasswordHasher) -> str:
    """A hash no password matches, verified when the email is unknown so that a login costs the
    same whether or not the account exists."""
    found = _DECOYS.get(id(hasher))
    if found is None or found[0] is not hasher:
        found = _DECOYS[id(hasher)] = (hasher, hasher.hash(secrets.token_urlsafe(32)))
    return found[1]


def login(
    email: str,
    password: str,
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    tokens: TokenIssuer,
) -> TokenPair:
    """A new token family for the right email and password; a hash in an older scheme is
    upgraded on the way, while the password is at hand."""
    try:
        known = normalise_email(email)
    except InvalidInput:
        known = None  # not an address at all: answered like any unknown one, at the same cost
    with uow:
        account = uow.accounts.by_email(known) if known is not None else None
    stored = account.password_hash if account is not None else _decoy_hash(hasher)
    # Same answer and same work for an unknown email and a wrong password: no enumeration.
    if not hasher.verify(password, stored) or account is None:
        raise AuthenticationFailed("wrong email or password")
    if hasher.needs_rehash(stored):
        _upgrade_hash(account, password, uow=uow, hasher=hasher)
    return tokens.issue(subject=account.id, role=account.role)


def _upgrade_hash(account: Account, password: str, *, uow: UnitOfWork, hasher: PasswordHasher) -> None:
    with uow:
        current = uow.accounts.get(account.id)
        # Only if nothing changed the password meanwhile (a reset racing this login).
        if current is not None and current.password_hash == account.password_hash:
            uow.accounts.save(attrs.evolve(current, password_hash=hasher.hash(password)))
            uow.commit()


def authenticate(access_token: str, *, tokens: TokenIssuer, denylist: TokenDenylist) -> Caller:
    """The caller behind a bearer token; revoked tokens, revoked families and unknown roles are refused."""
    claims = tokens.decode(access_token, kind="access")
    role = role_of_token(claims.role)
    if denylist.is_revoked(claims.token_id, claims.family.id):
        raise AuthenticationFailed("token revoked")
    return Caller(id=claims.subject, role=role)


def refresh(
    refresh_token: str, *, tokens: TokenIssuer, denylist: TokenDenylist, uow: UnitOfWork
) -> TokenPair:
    """Trade a refresh token for a new pair in the same family; the old refresh token is spent.

    A refresh token spent already is a stolen copy or a replay: its whole family is revoked, so
    the thief's successor tokens die with the victim's. The role is read again from the account,
    so a granted or revoked admin role takes effect at the next refresh.
    """
    claims = tokens.decode(refresh_token, kind="refresh")
    if denylist.is_revoked(claims.family.id):
        raise AuthenticationFailed("token revoked")
    # One atomic step: two requests racing with one refresh token get one new pair between them.
    if not denylist.spend(claims.token_id, until=claims.expires_at):
        revoke_family(claims, denylist=denylist)
        raise AuthenticationFailed("refresh token used twice: every token of this login is revoked")
    with uow:
        account = uow.accounts.get(claims.subject)
    if account is None or not account.admits_session_from(claims.issued_at):
        raise AuthenticationFailed("this login has ended: sign in again")
    return tokens.issue(subject=account.id, role=account.role, family=claims.family)


def revoke_family(claims: TokenClaims, *, denylist: TokenDenylist) -> None:
    """Revoke every token descending from the login ``claims`` belongs to."""
    denylist.revoke(claims.family.id, until=claims.family.expires_at)


def logout(access: TokenClaims, *, denylist: TokenDenylist) -> None:
    """End the login: the access token and its whole family, refresh tokens included."""
    denylist.revoke(access.token_id, until=access.expires_at)
    revoke_family(access, denylist=denylist)


def set_admin(email: str, *, admin: bool, uow: UnitOfWork) -> Account:
    """The operator's grant or revocation of the admin role (from the server's CLI only).

    Revoking gives back the role the account registered with: artist if it has an artist profile.
    """
    with uow:
        account = uow.accounts.by_email(normalise_email(email))
        if account is None:
            raise NotFound(f"no account with the email {email!r}")
        role = Role.ADMIN if admin else Role.ARTIST if uow.artists.get(account.id) is not None else Role.FAN
        if account.role is not role:
            account = attrs.evolve(account, role=role)
            uow.accounts.save(account)
            uow.commit()
    log.warning("the admin role of %s is now %s", account.id, "granted" if admin else "revoked")
    return account


@attrs.frozen
class Accounts:
    """Signing up, in and out: the account use cases, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    hasher: PasswordHasher
    tokens: TokenIssuer
    denylist: TokenDenylist
    ids: IdGenerator
    clock: Clock
    mail: AccountMail

    def register(self, command: Register) -> Account:
        """Create a fan or artist account and email a verification link (see ``register``)."""
        return register(
            command, uow=self.uow(), hasher=self.hasher, ids=self.ids, clock=self.clock, mail=self.mail
        )

    def login(self, email: str, password: str) -> TokenPair:
        """A new login: an access and a refresh token."""
        return login(email, password, uow=self.uow(), hasher=self.hasher, tokens=self.tokens)

    def sign_in(self, email: str, password: str) -> Caller:
        """Log in and return who that is: the caller to pass to other use cases from a script."""
        return self.authenticate(self.login(email, password).access_token)

    def authenticate(self, access_token: str) -> Caller:
        """Who holds ``access_token``; AuthenticationFailed when it is bad, expired or revoked."""
        return authenticate(access_token, tokens=self.tokens, denylist=self.denylist)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Trade a refresh token for a new pair; spending one twice revokes its whole login."""
        return refresh(refresh_token, tokens=self.tokens, denylist=self.denylist, uow=self.uow())

    def logout(self, access_token: str, *, refresh_token: str | None = None) -> None:
        """End the login of ``access_token``, and that of ``refresh_token`` when it is the same
        account's (never someone else's)."""
        access = self.tokens.decode(access_token, kind="access")
        logout(access, denylist=self.denylist)
        if refresh_token:
            other = self.tokens.decode(refresh_token, kind="refresh")
            if other.subject == access.subject:
                revoke_family(other, denylist=self.denylist)

    def set_admin(self, email: str, *, admin: bool) -> Account:
        """The operator's grant or revocation of the admin role."""
        return set_admin(email, admin=admin, uow=self.uow())
