"""Registering, logging in, refreshing and revoking tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from musicconnect.adapters.jwt import PyJwtTokenIssuer
from musicconnect.adapters.memory import FrozenClock, SequentialIdGenerator
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import AuthenticationFailed, Conflict, InvalidInput
from musicconnect.domain.tiers import TIERS_ASCENDING
from musicconnect.ports.services import TokenPair
from musicconnect.usecases.accounts import Register, authenticate, login, logout, refresh, register
from tests.unit.usecases.conftest import ADMIN_EMAIL, PASSWORD, UowFactory, World


def _register(
    world: World, *, email: str = "Someone@Example.com", role: str = "fan", password: str = PASSWORD
) -> Caller:
    account = register(
        Register(email=email, password=password, role=role, display_name="  Someone  "),
        uow=world.uow(),
        hasher=world.hasher,
        ids=world.ids,
        clock=world.clock,
        admin_emails=(ADMIN_EMAIL,),
    )
    return Caller(account.id, account.role)


def _login(world: World, email: str = "someone@example.com", password: str = PASSWORD) -> TokenPair:
    return login(email, password, uow=world.uow(), hasher=world.hasher, tokens=world.tokens)


def test_registering_a_fan_stores_a_normalised_account_with_a_hashed_password(world: World) -> None:
    """Email lower-cased, name trimmed, password only as a hash that verifies."""
    caller = _register(world)

    with world.uow() as uow:
        account = uow.accounts.get(caller.id)
        artist = uow.artists.get(caller.id)
    assert account is not None
    assert account.email == "someone@example.com"
    assert account.display_name == "Someone"
    assert account.role is Role.FAN
    assert account.created_at == world.clock.now()
    assert PASSWORD not in account.password_hash
    assert world.hasher.verify(PASSWORD, account.password_hash)
    assert artist is None


def test_registering_an_artist_creates_a_profile_with_the_three_default_tiers(world: World) -> None:
    """Free 0, supporter 500 and superfan 1000 USD cents, lowest first."""
    caller = _register(world, role="artist")

    with world.uow() as uow:
        artist = uow.artists.get(caller.id)
    assert artist is not None
    assert [p.tier for p in artist.plans] == list(TIERS_ASCENDING)
    assert [(p.price.amount_minor, p.price.currency) for p in artist.plans] == [
        (0, "USD"),
        (500, "USD"),
        (1000, "USD"),
    ]


def test_an_email_on_the_admin_list_registers_as_admin(world: World) -> None:
    """The admin list is matched case-insensitively and overrides the requested role."""
    caller = _register(world, email=ADMIN_EMAIL.upper())

    assert caller.role is Role.ADMIN


def test_an_email_can_register_only_once_whatever_its_case(world: World) -> None:
    """The second registration is a Conflict and adds no account."""
    _register(world)

    with pytest.raises(Conflict):
        _register(world, email="  SOMEONE@example.COM ")


@pytest.mark.parametrize(
    ("email", "password", "role"),
    [
        ("not-an-email", PASSWORD, "fan"),
        ("someone@example.com", "short", "fan"),
        ("someone@example.com", PASSWORD, "admin"),
        ("someone@example.com", PASSWORD, "label"),
    ],
)
def test_invalid_registrations_are_refused_and_store_nothing(
    world: World, email: str, password: str, role: str
) -> None:
    """Bad email, short password, or a role one may not pick: InvalidInput, no account."""
    with pytest.raises(InvalidInput):
        _register(world, email=email, password=password, role=role)

    with world.uow() as uow:
        assert uow.accounts.by_email("someone@example.com") is None


def test_login_returns_tokens_that_authenticate_as_the_account(world: World) -> None:
    """The access token decodes to the account's id and role."""
    caller = _register(world, role="artist")

    pair = _login(world, email="SOMEONE@example.com")

    assert authenticate(pair.access_token, tokens=world.tokens, denylist=world.denylist) == caller
    assert pair.expires_in > 0


@pytest.mark.parametrize(
    ("email", "password"),
    [("someone@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
)
def test_login_gives_the_same_answer_for_a_wrong_password_and_an_unknown_email(
    world: World, email: str, password: str
) -> None:
    """No account enumeration: one error message for both."""
    _register(world)

    with pytest.raises(AuthenticationFailed) as refused:
        _login(world, email=email, password=password)

    assert refused.value.detail == "wrong email or password"


def test_a_refresh_token_is_not_an_access_token(world: World) -> None:
    """Presenting the refresh token as a bearer token is refused."""
    _register(world)
    pair = _login(world)

    with pytest.raises(AuthenticationFailed):
        authenticate(pair.refresh_token, tokens=world.tokens, denylist=world.denylist)


def test_an_access_token_expires_on_the_injected_clock(world: World) -> None:
    """Valid a second before its lifetime ends, refused at its end."""
    _register(world)
    pair = _login(world)

    world.clock.advance(seconds=pair.expires_in - 1)
    authenticate(pair.access_token, tokens=world.tokens, denylist=world.denylist)
    world.clock.advance(seconds=1)

    with pytest.raises(AuthenticationFailed):
        authenticate(pair.access_token, tokens=world.tokens, denylist=world.denylist)


def test_refresh_rotates_the_pair_and_spends_the_old_refresh_token(world: World) -> None:
    """The new access token works; the old refresh token cannot be used twice."""
    caller = _register(world)
    first = _login(world)

    second = refresh(first.refresh_token, tokens=world.tokens, denylist=world.denylist)

    assert authenticate(second.access_token, tokens=world.tokens, denylist=world.denylist) == caller
    with pytest.raises(AuthenticationFailed):
        refresh(first.refresh_token, tokens=world.tokens, denylist=world.denylist)


def test_logout_revokes_the_access_and_refresh_tokens_until_they_expire(world: World) -> None:
    """Both are refused after logout; the denylist forgets them once they would be dead anyway."""
    _register(world)
    pair = _login(world)
    access = world.tokens.decode(pair.access_token, kind="access")
    refresh_claims = world.tokens.decode(pair.refresh_token, kind="refresh")

    logout(access, denylist=world.denylist, refresh_claims=refresh_claims)

    with pytest.raises(AuthenticationFailed):
        authenticate(pair.access_token, tokens=world.tokens, denylist=world.denylist)
    with pytest.raises(AuthenticationFailed):
        refresh(pair.refresh_token, tokens=world.tokens, denylist=world.denylist)
    world.clock.advance(timedelta(seconds=pair.expires_in))
    assert not world.denylist.is_revoked(access.token_id)
    assert world.denylist.is_revoked(refresh_claims.token_id)


def test_logout_never_revokes_someone_elses_refresh_token(world: World) -> None:
    """A refresh token of another account passed along with an access token is left alone."""
    _register(world)
    _register(world, email="other@example.com")
    mine = _login(world)
    theirs = _login(world, email="other@example.com")

    logout(
        world.tokens.decode(mine.access_token, kind="access"),
        denylist=world.denylist,
        refresh_claims=world.tokens.decode(theirs.refresh_token, kind="refresh"),
    )

    refresh(theirs.refresh_token, tokens=world.tokens, denylist=world.denylist)


def test_the_fixtures_build_each_port_once_per_test(
    uow_factory: UowFactory,
    clock: FrozenClock,
    ids: SequentialIdGenerator,
    tokens: PyJwtTokenIssuer,
    world: World,
) -> None:
    """The world and the single-port fixtures share one store, clock, id sequence and issuer."""
    caller = world.fan()

    with uow_factory() as uow:
        assert uow.accounts.get(caller.id) is not None
    assert world.clock is clock
    assert world.ids is ids
    assert world.tokens is tokens
