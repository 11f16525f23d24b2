"""The live-session state machine and the stream-key rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from musicconnect.domain.errors import Conflict, Forbidden, InvalidInput
from musicconnect.domain.live import (
    PUSHABLE,
    START_HORIZON,
    START_SKEW,
    LiveSession,
    LiveStatus,
    check_starts_at,
    hash_secret,
    new_secret,
    split_key,
    stream_key,
)

T0: Final = datetime(2025, 5, 1, 20, 0, tzinfo=UTC)
GRACE: Final = timedelta(seconds=30)
STALL: Final = timedelta(seconds=60)
SECRET: Final = "the-secret"


def a_session() -> LiveSession:
    return LiveSession(
        id="live-1",
        artist_id="artist-1",
        title="Set",
        starts_at=T0,
        created_at=T0,
        key_hash=hash_secret(SECRET),
    )


ids = st.text(alphabet="abcdef0123456789", min_size=1, max_size=32)
secrets_ = st.text(alphabet="ABCxyz019-_", min_size=1, max_size=40)


@given(session_id=ids, secret=secrets_)
def test_a_stream_key_splits_back_into_its_session_and_secret(session_id: str, secret: str) -> None:
    """What OBS is given names the session and carries the secret, and reads back as both."""
    assert split_key(stream_key(session_id, secret)) == (session_id, secret)


@pytest.mark.parametrize("key", ["", "no-separator", ".secret-only", "session-only.", "  "])
def test_malformed_keys_are_not_keys(key: str) -> None:
    """A key without both halves is refused before any lookup."""
    with pytest.raises(InvalidInput):
        split_key(key)


@given(secret=secrets_, other=secrets_)
def test_only_the_sessions_own_secret_matches(secret: str, other: str) -> None:
    """The stored hash matches its secret and no other; the secret itself is never stored."""
    session = LiveSession(
        id="s", artist_id="a", title="t", starts_at=T0, created_at=T0, key_hash=hash_secret(secret)
    )
    assert session.key_matches(secret)
    assert session.key_matches(other) == (other == secret)
    assert session.key_hash != secret


def test_new_secrets_are_long_and_unique() -> None:
    """Secrets carry at least 24 random bytes."""
    made = {new_secret() for _ in range(100)}
    assert len(made) == 100
    assert all(len(s) >= 32 for s in made)


def test_a_rotated_key_replaces_the_old_one() -> None:
    """After a rotation the old secret no longer matches."""
    rotated = a_session().with_key(hash_secret("new"))
    assert rotated.key_matches("new")
    assert not rotated.key_matches(SECRET)


def test_a_second_push_while_one_is_connected_is_refused() -> None:
    """One push at a time: the second conflicts."""
    live = a_session().published(T0)
    with pytest.raises(Conflict):
        live.published(T0 + timedelta(seconds=1))


@pytest.mark.parametrize("end", ["ended", "failed"])
def test_a_session_that_is_over_takes_no_push_and_no_new_key(end: str) -> None:
    """A stolen key after the end is useless, and an ended session cannot be revived by rotating."""
    over = a_session().ended(T0) if end == "ended" else a_session().failed("gone", T0)
    with pytest.raises(Forbidden):
        over.published(T0)
    with pytest.raises(Conflict):
        over.with_key(hash_secret("new"))


def test_a_dropped_push_ends_the_session_after_the_grace_period() -> None:
    """The session ends exactly when the grace period runs out, dated when the push dropped."""
    dropped = a_session().published(T0).push_ended(T0 + timedelta(minutes=5))
    just_before = dropped.settled(
        T0 + timedelta(minutes=5) + GRACE - timedelta(microseconds=1), grace=GRACE, stall=STALL
    )
    after = dropped.settled(T0 + timedelta(minutes=5) + GRACE, grace=GRACE, stall=STALL)
    assert just_before.status is LiveStatus.LIVE
    assert (after.status, after.ended_at) == (LiveStatus.ENDED, T0 + timedelta(minutes=5))


def test_a_push_that_comes_back_within_the_grace_period_resumes() -> None:
    """A reconnect in time keeps the session live, with its first start time."""
    back = (
        a_session().published(T0).push_ended(T0 + timedelta(seconds=10)).published(T0 + timedelta(seconds=20))
    )
    assert (
        back.settled(T0 + timedelta(hours=1), grace=GRACE, stall=timedelta(hours=2)).status is LiveStatus.LIVE
    )
    assert back.started_at == T0


def test_a_connected_push_without_media_fails_the_session() -> None:
    """A transcoder that never comes back leaves no session live forever."""
    live = a_session().published(T0).media_published(T0 + timedelta(seconds=10))
    failed = live.settled(T0 + timedelta(seconds=10) + STALL, grace=GRACE, stall=STALL)
    assert failed.status is LiveStatus.FAILED
    assert failed.failure_reason


class LiveSessionMachine(RuleBasedStateMachine):
    """Any sequence of pushes, drops, heartbeats, key changes, ends and time passing."""

    def __init__(self) -> None:
        super().__init__()
        self.session = a_session()
        self.now = T0
        self.ever_over = False

    def _settle(self) -> None:
        self.session = self.session.settled(self.now, grace=GRACE, stall=STALL)

    @rule(seconds=st.integers(min_value=0, max_value=200))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self._settle()

    @rule()
    def push(self) -> None:
        before = self.session
        try:
            self.session = before.published(self.now)
        except Forbidden:
            assert before.status not in PUSHABLE
        except Conflict:
            assert before.publishing
        else:
            assert before.status in PUSHABLE
            assert not before.publishing
            assert self.session.status is LiveStatus.LIVE

    @rule()
    def push_ends(self) -> None:
        self.session = self.session.push_ended(self.now)

    @rule()
    def heartbeat(self) -> None:
        self.session = self.session.media_published(self.now)

    @rule()
    def artist_ends(self) -> None:
        self.session = self.session.ended(self.now)

    @precondition(lambda self: not self.session.is_over)
    @rule()
    def rotate(self) -> None:
        self.session = self.session.with_key(hash_secret(f"k{self.now.timestamp()}"))

    @invariant()
    def over_is_forever(self) -> None:
        if self.ever_over:
            assert self.session.is_over
        self.ever_over = self.session.is_over

    @invariant()
    def never_live_past_the_limits(self) -> None:
        """Left alone, every session stops being live: no push or no media ends or fails it."""
        later = self.session.settled(self.now + max(GRACE, STALL), grace=GRACE, stall=STALL)
        assert later.status is not LiveStatus.LIVE

    @invariant()
    def times_are_consistent(self) -> None:
        s = self.session
        if s.status is not LiveStatus.SCHEDULED:
            assert s.started_at is not None or s.is_over
        if s.is_over:
            assert s.ended_at is not None
            assert not s.publishing
        if s.publishing:
            assert s.status is LiveStatus.LIVE


TestLiveSessionMachine = LiveSessionMachine.TestCase
TestLiveSessionMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


_NOW: Final = datetime(2025, 3, 10, 12, tzinfo=UTC)


@given(offset=st.timedeltas(min_value=timedelta(days=-3000), max_value=timedelta(days=3000)))
def test_a_start_is_accepted_exactly_from_a_little_skew_ago_to_the_horizon(offset: timedelta) -> None:
    """Whatever the start, it is kept when within [now - skew, now + horizon], refused otherwise."""
    starts_at = _NOW + offset
    if -START_SKEW <= offset <= START_HORIZON:
        assert check_starts_at(starts_at, now=_NOW) == starts_at
    else:
        with pytest.raises(InvalidInput, match="starts_at"):
            check_starts_at(starts_at, now=_NOW)


def test_a_start_without_a_timezone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        check_starts_at(datetime(2025, 3, 11, 12), now=_NOW)  # noqa: DTZ001 - the case under test
