"""MemoizedUrlSigner: the same contract as the signer it wraps; expiries on a grid it can reuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from musicconnect.adapters.filesystem import HmacUrlSigner
from musicconnect.adapters.memory import MemoizedUrlSigner
from musicconnect.ports.media import UrlSigner
from musicconnect.usecases.streaming import EXPIRY_STEPS, url_expiry
from tests.contract.media_contract import EXPIRES_AT, PATH, UrlSignerContract

SECRET = b"memoized-url-signer-secret-long-enough"


class CountingSigner(HmacUrlSigner):
    def __init__(self) -> None:
        super().__init__(SECRET)
        self.signed = 0

    def sign(self, path: str, *, subject: str, expires_at: datetime) -> str:
        self.signed += 1
        return super().sign(path, subject=subject, expires_at=expires_at)


class TestMemoizedUrlSigner(UrlSignerContract):
    def make_signer(self) -> UrlSigner:
        return MemoizedUrlSigner(HmacUrlSigner(SECRET))

    def make_other_signer(self) -> UrlSigner:
        return MemoizedUrlSigner(HmacUrlSigner(b"another-secret-that-is-long-enough-too"))


def test_the_same_grant_is_signed_once_and_a_different_one_again() -> None:
    """Path, subject and expiry are the key: change any one and a new signature is made."""
    counting = CountingSigner()
    signer = MemoizedUrlSigner(counting)
    first = signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT)
    assert signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT) == first
    assert counting.signed == 1
    signer.sign(PATH, subject="fan-2", expires_at=EXPIRES_AT)
    signer.sign(PATH, subject="fan-1", expires_at=EXPIRES_AT + timedelta(seconds=1))
    signer.sign(PATH + "x", subject="fan-1", expires_at=EXPIRES_AT)
    assert counting.signed == 4


def test_memory_is_bounded() -> None:
    """Beyond its capacity the least recently used URL is forgotten and signed again if asked."""
    counting = CountingSigner()
    signer = MemoizedUrlSigner(counting, capacity=1)
    signer.sign(PATH, subject="a", expires_at=EXPIRES_AT)
    signer.sign(PATH, subject="b", expires_at=EXPIRES_AT)
    signer.sign(PATH, subject="a", expires_at=EXPIRES_AT)
    assert counting.signed == 3


@given(
    now=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds; timezones= adds UTC
        max_value=datetime(2040, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    ttl_s=st.integers(min_value=1, max_value=7 * 24 * 3600),
)
def test_an_expiry_is_on_the_grid_within_one_step_of_the_full_lifetime(now: datetime, ttl_s: int) -> None:
    """URLs never outlive the TTL, lose at most one step of it, and never expire at once."""
    ttl = timedelta(seconds=ttl_s)
    step = max(1, ttl_s // EXPIRY_STEPS)
    expiry = url_expiry(now, ttl)
    assert expiry <= now + ttl
    assert expiry > now + ttl - timedelta(seconds=step + 1)
    assert expiry > now
    assert int(expiry.timestamp()) % step == 0


def test_two_requests_in_one_step_get_the_same_expiry() -> None:
    """Within two minutes (of the default two hours) a listener gets the same URLs again."""
    start = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    ttl = timedelta(hours=2)
    assert url_expiry(start, ttl) == url_expiry(start + timedelta(seconds=119), ttl)
