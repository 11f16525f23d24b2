"""MemoizedTokenIssuer: the same contract as the issuer it wraps, each signature verified once."""

from __future__ import annotations

import pytest

from musicconnect.adapters.jwt import PyJwtTokenIssuer
from musicconnect.adapters.memory import FrozenClock, MemoizedTokenIssuer
from musicconnect.domain.errors import AuthenticationFailed
from musicconnect.ports.services import Clock, TokenClaims, TokenIssuer
from tests.contract.auth_contract import START, TokenIssuerContract

SECRET = "memoized-token-issuer-secret-long-enough"


class CountingIssuer:
    """A real PyJwtTokenIssuer that counts the tokens it had to verify."""

    def __init__(self, clock: Clock) -> None:
        self._inner = PyJwtTokenIssuer(SECRET, clock=clock)
        self.issue = self._inner.issue
        self.verified = 0

    def decode(self, token: str, *, kind: str) -> TokenClaims:
        self.verified += 1
        return self._inner.decode(token, kind=kind)


class TestMemoizedTokenIssuer(TokenIssuerContract):
    def make_issuer(self, clock: Clock) -> TokenIssuer:
        return MemoizedTokenIssuer(PyJwtTokenIssuer(SECRET, clock=clock), clock=clock)

    def make_other_issuer(self, clock: Clock) -> TokenIssuer:
        return MemoizedTokenIssuer(PyJwtTokenIssuer("y" * 40, clock=clock), clock=clock)


def test_a_token_is_verified_once_while_it_is_valid() -> None:
    """A thousand requests with one token cost one signature check."""
    clock = FrozenClock(START)
    counting = CountingIssuer(clock)
    issuer = MemoizedTokenIssuer(counting, clock=clock)
    token = issuer.issue(subject="fan-1", role="fan").access_token
    claims = {issuer.decode(token, kind="access") for _ in range(1000)}
    assert len(claims) == 1
    assert counting.verified == 1


def test_a_remembered_token_still_expires_by_the_clock() -> None:
    """Memory never outlives the token: once it expires, it is refused as before."""
    clock = FrozenClock(START)
    issuer = MemoizedTokenIssuer(PyJwtTokenIssuer(SECRET, clock=clock), clock=clock)
    pair = issuer.issue(subject="fan-1", role="fan")
    issuer.decode(pair.access_token, kind="access")
    clock.advance(seconds=pair.expires_in)
    with pytest.raises(AuthenticationFailed, match="expired"):
        issuer.decode(pair.access_token, kind="access")


def test_a_token_is_remembered_for_its_kind_only() -> None:
    """An access token accepted once is still refused where a refresh token is required."""
    clock = FrozenClock(START)
    issuer = MemoizedTokenIssuer(PyJwtTokenIssuer(SECRET, clock=clock), clock=clock)
    token = issuer.issue(subject="fan-1", role="fan").access_token
    issuer.decode(token, kind="access")
    with pytest.raises(AuthenticationFailed):
        issuer.decode(token, kind="refresh")


def test_memory_is_bounded_least_recently_used_first() -> None:
    """Beyond its capacity the oldest token is forgotten (and verified again when it returns)."""
    clock = FrozenClock(START)
    counting = CountingIssuer(clock)
    issuer = MemoizedTokenIssuer(counting, clock=clock, capacity=2)
    tokens = [issuer.issue(subject=f"fan-{i}", role="fan").access_token for i in range(3)]
    for token in tokens:
        issuer.decode(token, kind="access")
    issuer.decode(tokens[2], kind="access")
    assert counting.verified == 3
    issuer.decode(tokens[0], kind="access")
    assert counting.verified == 4
