"""Registering, logging in, refreshing and revoking tokens, admin grants, email proofs, resets."""

from __future__ import annotations

import attrs
import pytest

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.jwt import PyJwtTokenIssuer
from musicconnect.adapters.memory import FrozenClock, SequentialIdGenerator
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import AuthenticationFailed, Conflict, Forbidden, InvalidInput, NotFound
from musicconnect.domain.tiers import TIERS_ASCENDING, Tier
from musicconnect.ports.services import TokenPair
from musicconnect.usecases.account_mail import RESET_TTL
from musicconnect.usecases.accounts import (
    Register,
    authenticate,
    login,
    logout,
    refresh,
    register,
    set_admin,
)
from musicconnect.usecases.profile import (
    ChangeAccount,
    change_account,
    confirm_email,
    erase_account,
    export_account,
    my_account,
    request_password_reset,
    reset_password,
)
from tests.support.accounts import link_token
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
        mail=world.mail,
    )
    return Caller(account.id, account.role)


def _login(world: World, email: str = "someone@example.com", password: str = PASSWORD) -> TokenPair:
    return login(email, password, uow=world.uow(), hasher=world.hasher, tokens=world.tokens)


def _refresh(world: World, token: str) -> TokenPair:
    return refresh(token, tokens=world.tokens, denylist=world.denylist, uow=world.uow())


def _authenticate(world: World, token: str) -> Caller:
    return authenticate(token, tokens=world.tokens, denylist=world.denylist)


def _reset(world: World, token: str, password: str) -> None:
    reset_password(token, password, uow=world.uow(), hasher=world.hasher, mail=world.mail, clock=world.clock)


def _account(world: World, caller: Caller) -> object:
    with world.uow() as uow:
        return uow.accounts.get(caller.id)


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


def test_no_email_registers_as_admin(world: World) -> None:
    """Whatever the address (the operator's own included), registration gives fan or artist."""
    caller = _register(world, email=ADMIN_EMAIL.upper())

    assert caller.role is Role.FAN


def test_the_operator_grants_and_revokes_admin_by_email(world: World) -> None:
    """set_admin makes an account admin; revoking gives an artist back the artist role."""
    artist = _register(world, role="artist")
    assert set_admin(" SOMEONE@example.com", admin=True, uow=world.uow()).role is Role.ADMIN
    assert _authenticate(world, _login(world).access_token).role is Role.ADMIN
    assert set_admin("someone@example.com", admin=False, uow=world.uow()).role is Role.ARTIST
    assert _authenticate(world, _login(world).access_token) == artist
    with pytest.raises(NotFound):
        set_admin("nobody@example.com", admin=True, uow=world.uow())


def test_a_refresh_picks_up_a_role_change(world: World) -> None:
    """A granted admin role reaches existing logins at their next refresh."""
    _register(world)
    pair = _login(world)
    set_admin("someone@example.com", admin=True, uow=world.uow())
    assert _authenticate(world, _refresh(world, pair.refresh_token).access_token).role is Role.ADMIN


def test_a_second_registration_of_an_email_stores_nothing_and_tells_its_owner(world: World) -> None:
    """Any case or spacing: same kind of answer, no new account, an email to the owner."""
    first = _register(world)

    second = _register(world, email="  SOMEONE@example.COM ")

    assert second.id != first.id
    with world.uow() as uow:
        assert uow.accounts.get(second.id) is None
    subjects = [m.subject for m in world.outbox.sent("someone@example.com")]
    assert subjects[-1] == "You already have a Music Connect account"


@pytest.mark.parametrize(
    ("email", "password", "role"),
    [
        ("not-an-email", PASSWORD, "fan"),
        ("someone@example.com", "short", "fan"),
        ("someone@example.com", "123456789", "fan"),
        ("someone@example.com", "password123", "fan"),
        ("someone@example.com", "qwertyuiop", "fan"),
        ("someone@example.com", "my someone@example.com pw", "fan"),
        ("someone@example.com", "Someone-rocks-2025", "fan"),
        ("someone@example.com", PASSWORD, "admin"),
        ("someone@example.com", PASSWORD, "label"),
    ],
)
def test_invalid_registrations_are_refused_and_store_nothing(
    world: World, email: str, password: str, role: str
) -> None:
    """Bad email; a password short, common or containing the email; a role one may not pick:
    InvalidInput, no account."""
    with pytest.raises(InvalidInput):
        _register(world, email=email, password=password, role=role)

    with world.uow() as uow:
        assert uow.accounts.by_email("someone@example.com") is None


def test_login_returns_tokens_that_authenticate_as_the_account(world: World) -> None:
    """The access token decodes to the account's id and role."""
    caller = _register(world, role="artist")

    pair = _login(world, email="SOMEONE@example.com")

    assert _authenticate(world, pair.access_token) == caller
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
        _authenticate(world, pair.refresh_token)


def test_an_access_token_expires_on_the_injected_clock(world: World) -> None:
    """Valid a second before its lifetime ends, refused at its end."""
    _register(world)
    pair = _login(world)

    world.clock.advance(seconds=pair.expires_in - 1)
    _authenticate(world, pair.access_token)
    world.clock.advance(seconds=1)

    with pytest.raises(AuthenticationFailed):
        _authenticate(world, pair.access_token)


def test_a_token_naming_an_unknown_role_is_refused(world: World) -> None:
    """A validly signed token whose role this release does not know is a 401, not a crash."""
    pair = world.tokens.issue(subject="acct-1", role="superuser")

    with pytest.raises(AuthenticationFailed, match="unknown role"):
        _authenticate(world, pair.access_token)


def test_refresh_rotates_the_pair_and_spends_the_old_refresh_token(world: World) -> None:
    """The new access token works; the old refresh token cannot be used twice."""
    caller = _register(world)
    first = _login(world)

    second = _refresh(world, first.refresh_token)

    assert _authenticate(world, second.access_token) == caller
    with pytest.raises(AuthenticationFailed):
        _refresh(world, first.refresh_token)


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(world: World) -> None:
    """The successor of a replayed refresh token dies with it: access and refresh alike."""
    _register(world)
    first = _login(world)
    second = _refresh(world, first.refresh_token)

    with pytest.raises(AuthenticationFailed, match="used twice"):
        _refresh(world, first.refresh_token)

    with pytest.raises(AuthenticationFailed):
        _authenticate(world, second.access_token)
    with pytest.raises(AuthenticationFailed):
        _refresh(world, second.refresh_token)


def test_a_family_lives_one_refresh_lifetime_from_its_login(world: World) -> None:
    """Rotation never extends a login: every refresh token of a family expires with the first."""
    _register(world)
    first = _login(world)
    ends = world.tokens.decode(first.refresh_token, kind="refresh").expires_at
    world.clock.advance(days=10)

    second = _refresh(world, first.refresh_token)

    assert world.tokens.decode(second.refresh_token, kind="refresh").expires_at == ends


def test_logout_revokes_the_family_until_it_would_expire(world: World) -> None:
    """Access and refresh tokens are refused after logout; the denylist forgets them at the end."""
    _register(world)
    pair = _login(world)
    access = world.tokens.decode(pair.access_token, kind="access")

    logout(access, denylist=world.denylist)

    with pytest.raises(AuthenticationFailed):
        _authenticate(world, pair.access_token)
    with pytest.raises(AuthenticationFailed):
        _refresh(world, pair.refresh_token)
    world.clock.set(access.family.expires_at)
    assert not world.denylist.is_revoked(access.token_id, access.family.id)


def test_logout_leaves_other_logins_of_the_account_alone(world: World) -> None:
    """Another device's login is another family."""
    _register(world)
    mine, other = _login(world), _login(world)

    logout(world.tokens.decode(mine.access_token, kind="access"), denylist=world.denylist)

    _authenticate(world, other.access_token)
    _refresh(world, other.refresh_token)


def test_an_old_scrypt_hash_is_upgraded_at_the_next_login(world: World) -> None:
    """The account registered under an older scheme logs in and leaves with a current hash."""
    caller = _register(world)
    legacy = ScryptPasswordHasher(n=2**4, r=1, p=1)
    with world.uow() as uow:
        account = uow.accounts.get(caller.id)
        assert account is not None
        uow.accounts.save(attrs.evolve(account, password_hash=legacy.hash(PASSWORD)))
        uow.commit()
    assert world.hasher.needs_rehash(legacy.hash(PASSWORD))

    _login(world)

    upgraded = my_account(caller, uow=world.uow()).password_hash
    assert not world.hasher.needs_rehash(upgraded)
    assert world.hasher.verify(PASSWORD, upgraded)


# --- email proofs and password resets -----------------------------------------------------------


def test_registration_sends_a_verification_link_that_verifies_once(world: World) -> None:
    """The link proves the address; following it again is refused."""
    caller = _register(world)
    token = link_token(world.outbox.sent("someone@example.com")[-1])
    assert not my_account(caller, uow=world.uow()).email_verified

    confirm_email(token, uow=world.uow(), mail=world.mail)

    assert my_account(caller, uow=world.uow()).email_verified
    with pytest.raises(AuthenticationFailed):
        confirm_email(token, uow=world.uow(), mail=world.mail)


def test_only_the_hash_of_a_link_token_is_stored(world: World) -> None:
    """The store never holds the token itself, so a copy of it makes no working links."""
    _register(world)
    token = link_token(world.outbox.sent("someone@example.com")[-1])

    assert token not in repr(world.one_time_tokens._values)


def test_a_reset_link_sets_a_new_password_once_and_expires(world: World) -> None:
    """Reset works once; an unused link is refused after its hour; unknown emails get nothing."""
    _register(world)
    request_password_reset("someone@example.com", uow=world.uow(), mail=world.mail)
    request_password_reset("nobody@example.com", uow=world.uow(), mail=world.mail)
    assert world.outbox.sent("nobody@example.com") == []
    token = link_token(world.outbox.sent("someone@example.com")[-1])

    _reset(world, token, "a brand new secret")

    _login(world, password="a brand new secret")
    with pytest.raises(AuthenticationFailed):
        _reset(world, token, "another new secret")
    request_password_reset("someone@example.com", uow=world.uow(), mail=world.mail)
    late = link_token(world.outbox.sent("someone@example.com")[-1])
    world.clock.advance(RESET_TTL)
    with pytest.raises(AuthenticationFailed):
        _reset(world, late, "too late a secret")


def test_a_password_reset_or_change_ends_every_other_login(world: World) -> None:
    """Whoever else holds a refresh token of the account cannot refresh after a reset or a
    change; a login made afterwards works."""
    caller = _register(world)
    thief = _login(world)
    request_password_reset("someone@example.com", uow=world.uow(), mail=world.mail)
    world.clock.advance(seconds=5)
    token = link_token(world.outbox.sent("someone@example.com")[-1])

    _reset(world, token, "taken back secret")

    with pytest.raises(AuthenticationFailed, match="ended"):
        _refresh(world, thief.refresh_token)
    mine = _login(world, password="taken back secret")
    world.clock.advance(seconds=5)
    change_account(
        ChangeAccount(password="changed again secret", current_password="taken back secret"),
        caller=caller,
        uow=world.uow(),
        hasher=world.hasher,
        mail=world.mail,
        clock=world.clock,
    )
    with pytest.raises(AuthenticationFailed, match="ended"):
        _refresh(world, mine.refresh_token)
    _refresh(world, _login(world, password="changed again secret").refresh_token)


def test_an_email_change_takes_effect_when_the_new_address_is_proven(world: World) -> None:
    """The current password is needed; the old email stays until the link to the new one is used."""
    caller = _register(world)
    change = ChangeAccount(email="new@example.com", current_password=PASSWORD)
    with pytest.raises(AuthenticationFailed):
        change_account(
            attrs.evolve(change, current_password="wrong one!"),
            caller=caller,
            uow=world.uow(),
            hasher=world.hasher,
            mail=world.mail,
            clock=world.clock,
        )

    change_account(
        change, caller=caller, uow=world.uow(), hasher=world.hasher, mail=world.mail, clock=world.clock
    )
    assert my_account(caller, uow=world.uow()).email == "someone@example.com"
    confirm_email(link_token(world.outbox.sent("new@example.com")[-1]), uow=world.uow(), mail=world.mail)

    account = my_account(caller, uow=world.uow())
    assert (account.email, account.email_verified) == ("new@example.com", True)


def test_an_email_change_to_a_taken_address_is_refused_when_confirmed(world: World) -> None:
    """Two accounts never share an email, even if both proved it."""
    caller = _register(world)
    _register(world, email="taken@example.com")
    change_account(
        ChangeAccount(email="taken@example.com", current_password=PASSWORD),
        caller=caller,
        uow=world.uow(),
        hasher=world.hasher,
        mail=world.mail,
        clock=world.clock,
    )

    with pytest.raises(Conflict):
        confirm_email(
            link_token(world.outbox.sent("taken@example.com")[-1]), uow=world.uow(), mail=world.mail
        )


def test_erasing_an_account_forgets_the_person_and_ends_sign_in(world: World) -> None:
    """Email, name and password go; the id stays (money records point at it); login fails."""
    caller = _register(world, role="artist")
    pair = _login(world)

    erase_account(caller, PASSWORD, uow=world.uow(), hasher=world.hasher, subscriptions=world.subscriptions)

    with world.uow() as uow:
        account = uow.accounts.get(caller.id)
        artist = uow.artists.get(caller.id)
        assert uow.accounts.by_email("someone@example.com") is None
    assert account is not None
    assert "someone" not in (account.email + account.display_name).lower()
    assert artist is not None
    assert artist.display_name == account.display_name
    with pytest.raises(AuthenticationFailed):
        _login(world)
    with pytest.raises(AuthenticationFailed):
        _refresh(world, pair.refresh_token)


def test_erasing_a_fan_cancels_their_subscriptions_so_nobody_is_charged_again(world: World) -> None:
    """Each live subscription ends at its period end, as a cancellation does; no renewal follows."""
    artist = world.artist()
    caller = _register(world, role="fan")
    world.subscribe(caller, artist, Tier.SUPPORTER)
    charged = len(world.gateway.charges)

    erase_account(caller, PASSWORD, uow=world.uow(), hasher=world.hasher, subscriptions=world.subscriptions)

    with world.uow() as uow:
        [subscription] = uow.subscriptions.of_fan(caller.id)
    assert subscription.cancel_at_period_end
    world.clock.set(subscription.current_period_end)
    world.subscriptions.run_billing()
    with world.uow() as uow:
        assert uow.subscriptions.live_for(caller.id, artist.id) is None
    assert len(world.gateway.charges) == charged


def test_the_export_holds_the_account_and_no_password_hash(world: World) -> None:
    """Everything about the person, as data that serialises to JSON."""
    caller = _register(world, role="artist")

    exported = export_account(caller, uow=world.uow())

    assert exported["account"]["email"] == "someone@example.com"
    assert exported["artist"]["tiers"][0]["tier"] == "free"
    assert "password" not in repr(exported).lower()


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


@attrs.define
class _ErasingWhileHashing:
    """A hasher during whose (slow) work the account is erased by another request."""

    inner: ScryptPasswordHasher
    erase: list[Caller]
    world: World

    def hash(self, password: str) -> str:
        for caller in self.erase:
            erase_account(
                caller,
                PASSWORD,
                uow=self.world.uow(),
                hasher=self.inner,
                subscriptions=self.world.subscriptions,
            )
        self.erase.clear()
        return self.inner.hash(password)

    def verify(self, password: str, hashed: str) -> bool:
        return self.inner.verify(password, hashed)

    def needs_rehash(self, hashed: str) -> bool:
        return self.inner.needs_rehash(hashed)


def test_a_reset_racing_an_erasure_never_brings_the_account_back(world: World) -> None:
    """The new password is hashed outside the write; if the account was erased meanwhile, the
    reset is refused (409) and the account stays erased."""
    caller = _register(world)
    request_password_reset("someone@example.com", uow=world.uow(), mail=world.mail)
    token = link_token(world.outbox.sent("someone@example.com")[-1])
    racing = _ErasingWhileHashing(ScryptPasswordHasher(n=2, r=1, p=1), [caller], world)

    with pytest.raises(Conflict):
        reset_password(
            token, "a brand new secret", uow=world.uow(), hasher=racing, mail=world.mail, clock=world.clock
        )

    with world.uow() as uow:
        account = uow.accounts.get(caller.id)
    assert account is not None
    assert account.is_erased


def test_no_email_but_account_email_goes_to_an_unverified_address(world: World) -> None:
    """Notices wait for a proven address, so nobody mails a stranger through us."""
    caller = _register(world)
    with world.uow() as uow:
        unverified = uow.accounts.get(caller.id)
    assert unverified is not None
    with pytest.raises(Forbidden):
        world.mail.send_notice(unverified, "News", "A new release")
    confirm_email(link_token(world.outbox.sent("someone@example.com")[-1]), uow=world.uow(), mail=world.mail)
    with world.uow() as uow:
        verified = uow.accounts.get(caller.id)
    assert verified is not None

    world.mail.send_notice(verified, "News", "A new release")

    assert world.outbox.sent("someone@example.com")[-1].subject == "News"
