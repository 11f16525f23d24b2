"""What every TokenIssuer and PasswordHasher adapter must do."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from musicconnect.adapters.memory.services import FrozenClock
from musicconnect.domain.errors import AuthenticationFailed
from musicconnect.ports.services import Clock, PasswordHasher, TokenIssuer

#: Far from the real time on purpose: issuers must judge expiry by the clock they are given.
START = datetime(2031, 3, 1, 9, 30, tzinfo=UTC)


def _b64url_json(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, object]:
    segment = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


class TokenIssuerContract:
    """Access and refresh tokens: each decodes only as its own kind, with this issuer's key,
    before it expires by the injected clock."""

    def make_issuer(self, clock: Clock) -> TokenIssuer:
        raise NotImplementedError

    def make_other_issuer(self, clock: Clock) -> TokenIssuer:
        """An issuer of the same kind with a different key."""
        raise NotImplementedError

    @pytest.fixture
    def clock(self) -> FrozenClock:
        return FrozenClock(START)

    @pytest.fixture
    def issuer(self, clock: FrozenClock) -> TokenIssuer:
        return self.make_issuer(clock)

    def test_access_token_decodes_to_its_claims(self, issuer: TokenIssuer) -> None:
        """An access token carries subject, role, kind and an expiry expires_in seconds away."""
        pair = issuer.issue(subject="acct-1", role="fan")
        claims = issuer.decode(pair.access_token, kind="access")
        assert (claims.subject, claims.role, claims.kind) == ("acct-1", "fan", "access")
        assert claims.expires_at == START + timedelta(seconds=pair.expires_in)
        assert claims.token_id

    def test_refresh_token_decodes_as_refresh(self, issuer: TokenIssuer) -> None:
        """A refresh token decodes as a refresh token for the same subject and role."""
        pair = issuer.issue(subject="acct-1", role="artist")
        claims = issuer.decode(pair.refresh_token, kind="refresh")
        assert (claims.subject, claims.role, claims.kind) == ("acct-1", "artist", "refresh")
        assert claims.expires_at > START + timedelta(seconds=pair.expires_in)

    def test_a_token_is_only_good_as_its_own_kind(self, issuer: TokenIssuer) -> None:
        """A refresh token is refused as an access token, and the other way round."""
        pair = issuer.issue(subject="acct-1", role="fan")
        with pytest.raises(AuthenticationFailed):
            issuer.decode(pair.refresh_token, kind="access")
        with pytest.raises(AuthenticationFailed):
            issuer.decode(pair.access_token, kind="refresh")

    def test_every_token_has_its_own_id(self, issuer: TokenIssuer) -> None:
        """Token ids differ between the two tokens of a pair and between pairs, so each can be revoked."""
        first = issuer.issue(subject="acct-1", role="fan")
        second = issuer.issue(subject="acct-1", role="fan")
        ids = {
            issuer.decode(first.access_token, kind="access").token_id,
            issuer.decode(first.refresh_token, kind="refresh").token_id,
            issuer.decode(second.access_token, kind="access").token_id,
            issuer.decode(second.refresh_token, kind="refresh").token_id,
        }
        assert len(ids) == 4

    def test_access_token_expires_by_the_injected_clock(
        self, issuer: TokenIssuer, clock: FrozenClock
    ) -> None:
        """Valid one second before expires_in has passed, refused from then on; refresh lives on."""
        pair = issuer.issue(subject="acct-1", role="fan")
        clock.advance(seconds=pair.expires_in - 1)
        assert issuer.decode(pair.access_token, kind="access").subject == "acct-1"
        clock.advance(seconds=1)
        with pytest.raises(AuthenticationFailed):
            issuer.decode(pair.access_token, kind="access")
        assert issuer.decode(pair.refresh_token, kind="refresh").subject == "acct-1"

    def test_refresh_token_expires_too(self, issuer: TokenIssuer, clock: FrozenClock) -> None:
        """A refresh token is refused once its own expiry has passed."""
        pair = issuer.issue(subject="acct-1", role="fan")
        expires_at = issuer.decode(pair.refresh_token, kind="refresh").expires_at
        clock.set(expires_at)
        with pytest.raises(AuthenticationFailed):
            issuer.decode(pair.refresh_token, kind="refresh")

    def test_a_clock_in_the_past_still_works(self) -> None:
        """Tokens issued and checked by a clock years behind real time decode normally."""
        clock = FrozenClock(datetime(2001, 1, 1, tzinfo=UTC))
        issuer = self.make_issuer(clock)
        pair = issuer.issue(subject="acct-1", role="fan")
        clock.advance(seconds=1)
        assert issuer.decode(pair.access_token, kind="access").subject == "acct-1"

    def test_a_token_used_before_it_was_issued_is_refused(
        self, issuer: TokenIssuer, clock: FrozenClock
    ) -> None:
        """A token is not valid at an instant before its issue."""
        pair = issuer.issue(subject="acct-1", role="fan")
        clock.set(START - timedelta(minutes=5))
        with pytest.raises(AuthenticationFailed):
            issuer.decode(pair.access_token, kind="access")

    def test_another_keys_token_is_refused(self, issuer: TokenIssuer, clock: FrozenClock) -> None:
        """A well-formed token from an issuer with another key is refused."""
        forged = self.make_other_issuer(clock).issue(subject="acct-1", role="admin")
        with pytest.raises(AuthenticationFailed):
            issuer.decode(forged.access_token, kind="access")

    def test_a_tampered_payload_is_refused(self, issuer: TokenIssuer) -> None:
        """Editing the claims (role fan to admin) without re-signing is refused."""
        token = issuer.issue(subject="acct-1", role="fan").access_token
        header, _, signature = token.split(".")
        claims = _payload(token)
        assert claims["role"] == "fan"
        tampered = f"{header}.{_b64url_json({**claims, 'role': 'admin'})}.{signature}"
        with pytest.raises(AuthenticationFailed):
            issuer.decode(tampered, kind="access")

    @pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a.b", "....", "Bearer x.y.z", "\x00"])
    def test_garbage_is_refused(self, issuer: TokenIssuer, garbage: str) -> None:
        """Strings that are not tokens raise AuthenticationFailed, never another error."""
        with pytest.raises(AuthenticationFailed):
            issuer.decode(garbage, kind="access")


class PasswordHasherContract:
    def make_hasher(self) -> PasswordHasher:
        raise NotImplementedError

    @pytest.fixture
    def hasher(self) -> PasswordHasher:
        return self.make_hasher()

    def test_the_password_verifies_against_its_hash(self, hasher: PasswordHasher) -> None:
        """hash then verify with the same password is true."""
        assert hasher.verify("correct horse battery", hasher.hash("correct horse battery"))

    @pytest.mark.parametrize(
        "attempt", ["wrong horse battery", "Correct horse battery", "correct horse battery ", ""]
    )
    def test_other_passwords_do_not_verify(self, hasher: PasswordHasher, attempt: str) -> None:
        """Any other password, however close, is refused."""
        assert not hasher.verify(attempt, hasher.hash("correct horse battery"))

    def test_each_hash_is_salted(self, hasher: PasswordHasher) -> None:
        """The same password hashes differently each time, and both hashes verify."""
        first, second = hasher.hash("same password"), hasher.hash("same password")
        assert first != second
        assert hasher.verify("same password", first)
        assert hasher.verify("same password", second)

    def test_the_hash_does_not_contain_the_password(self, hasher: PasswordHasher) -> None:
        """Neither the password nor its base64 appears in the hash."""
        hashed = hasher.hash("visible-secret-123")
        assert "visible-secret-123" not in hashed
        assert base64.b64encode(b"visible-secret-123").decode().rstrip("=") not in hashed

    @pytest.mark.parametrize(
        "password", ["pässwörd-🎵-ok", "日本語のパスワード", "x" * 1000, "lone \ud800 surrogate"]
    )
    def test_any_text_can_be_a_password(self, hasher: PasswordHasher, password: str) -> None:
        """Non-ASCII, long and odd passwords hash and verify."""
        assert hasher.verify(password, hasher.hash(password))
        assert not hasher.verify(password + "!", hasher.hash(password))

    @pytest.mark.parametrize(
        "stored", ["", "plain text", "$", "scrypt$", "$2b$12$abcdefghijklmnopqrstuv", "md5$x$y"]
    )
    def test_a_malformed_hash_verifies_nothing(self, hasher: PasswordHasher, stored: str) -> None:
        """A stored value that is not a hash is false for every password, not an error."""
        assert not hasher.verify("anything", stored)
        assert not hasher.verify("", stored)

    def test_a_fresh_hash_needs_no_rehash(self, hasher: PasswordHasher) -> None:
        """What hash makes today is current; anything unrecognisable needs a new hash."""
        assert not hasher.needs_rehash(hasher.hash("correct horse battery"))
        assert hasher.needs_rehash("")
        assert hasher.needs_rehash("md5$x$y")


class TokenFamilyContract:
    """Rotation keeps a login's family: same id, same end, never later."""

    def make_issuer(self, clock: Clock) -> TokenIssuer:
        raise NotImplementedError

    def test_a_login_starts_a_family_that_both_tokens_share(self) -> None:
        """Access and refresh tokens of a pair carry one family, ending when the refresh token does."""
        issuer = self.make_issuer(FrozenClock(START))
        pair = issuer.issue(subject="acct-1", role="fan")
        access = issuer.decode(pair.access_token, kind="access")
        refresh = issuer.decode(pair.refresh_token, kind="refresh")
        assert access.family == refresh.family
        assert refresh.family.expires_at == refresh.expires_at
        assert (
            issuer.decode(issuer.issue(subject="acct-1", role="fan").access_token, kind="access").family
            != access.family
        )

    def test_a_rotated_pair_stays_in_its_family_and_never_outlives_it(self) -> None:
        """Issued into a family, the refresh token ends with it, and so does an access token near its end."""
        clock = FrozenClock(START)
        issuer = self.make_issuer(clock)
        family = issuer.decode(
            issuer.issue(subject="acct-1", role="fan").refresh_token, kind="refresh"
        ).family
        clock.set(family.expires_at - timedelta(seconds=60))

        pair = issuer.issue(subject="acct-1", role="fan", family=family)

        assert issuer.decode(pair.refresh_token, kind="refresh").family == family
        assert issuer.decode(pair.refresh_token, kind="refresh").expires_at == family.expires_at
        assert issuer.decode(pair.access_token, kind="access").expires_at == family.expires_at
        assert pair.expires_in == 60
