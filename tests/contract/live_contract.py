"""What every live-session repository must do, checked through its unit of work (see
``repositories_contract`` for the ``make_uow`` hook)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import pytest

from musicconnect.domain.errors import Conflict
from musicconnect.domain.live import LiveSession, LiveStatus, hash_secret
from musicconnect.ports.repositories import UnitOfWork
from tests.contract.repositories_contract import UnitOfWorkFactory

T0: Final = datetime(2025, 3, 1, 20, 0, tzinfo=UTC)


def a_session(
    session_id: str = "live-1", *, artist_id: str = "artist-1", starts_in_h: int = 1
) -> LiveSession:
    return LiveSession(
        id=session_id,
        artist_id=artist_id,
        title="Sunday set",
        starts_at=T0 + timedelta(hours=starts_in_h),
        created_at=T0,
        key_hash=hash_secret("s3cret"),
    )


class LiveSessionRepositoryContract(UnitOfWorkFactory):
    def test_a_session_round_trips_every_field(self) -> None:
        """A live session that was pushed, dropped and failed reads back exactly, times and all."""
        steps = [a_session()]
        steps.append(steps[-1].published(T0 + timedelta(microseconds=5)))
        steps.append(steps[-1].media_published(T0 + timedelta(seconds=4)))
        steps.append(steps[-1].push_ended(T0 + timedelta(seconds=9)))
        steps.append(steps[-1].failed("transcoder died", T0 + timedelta(minutes=1)))
        steps.append(steps[-1].with_recording("track-9"))
        self.committed(lambda uow: uow.live_sessions.add(steps[0]))
        self.each_committed(steps[1:], lambda uow, s: uow.live_sessions.save(s))
        later = steps[-1]

        assert self.read(lambda uow: uow.live_sessions.get("live-1")) == later
        assert self.read(lambda uow: uow.live_sessions.get("nope")) is None

    def test_a_second_session_with_one_id_conflicts(self) -> None:
        """add refuses an id that is taken."""
        self.committed(lambda uow: uow.live_sessions.add(a_session()))

        with pytest.raises(Conflict):
            self.committed(lambda uow: uow.live_sessions.add(a_session()))

    def test_a_save_from_a_stale_copy_is_refused(self) -> None:
        """Two pushes accepted from the same copy: the second save conflicts, the first stays."""
        session = a_session()
        self.committed(lambda uow: uow.live_sessions.add(session))
        self.committed(lambda uow: uow.live_sessions.save(session.published(T0)))

        with pytest.raises(Conflict):
            self.committed(lambda uow: uow.live_sessions.save(session.ended(T0)))
        stored = self.read(lambda uow: uow.live_sessions.get("live-1"))
        assert stored is not None
        assert stored.status is LiveStatus.LIVE

    def test_racing_pushes_make_one_session_live_once(self) -> None:
        """Of several units of work that each read the session and save it live, one commits."""
        self.committed(lambda uow: uow.live_sessions.add(a_session()))

        def push(uow: UnitOfWork, _: int) -> LiveSession:
            current = uow.live_sessions.get("live-1")
            assert current is not None
            started = current.published(T0)
            uow.live_sessions.save(started)
            return started

        outcomes = self.race(4, push)

        assert sum(not isinstance(o, Conflict) for o in outcomes) == 1
        stored = self.read(lambda uow: uow.live_sessions.get("live-1"))
        assert stored is not None
        assert stored.version == 1

    def test_of_artist_lists_theirs_soonest_first_and_live_lists_live_ones(self) -> None:
        """of_artist orders by start time; live returns only sessions stored as live."""
        sessions = [
            a_session("late", starts_in_h=5),
            a_session("other", artist_id="artist-2", starts_in_h=2),
            a_session("soon", starts_in_h=1),
        ]
        self.each_committed(sessions, lambda uow, s: uow.live_sessions.add(s))
        self.committed(lambda uow: uow.live_sessions.save(sessions[1].published(T0)))

        assert self.read(lambda uow: [s.id for s in uow.live_sessions.of_artist("artist-1")]) == [
            "soon",
            "late",
        ]
        assert self.read(lambda uow: [s.id for s in uow.live_sessions.live()]) == ["other"]
        assert self.read(lambda uow: uow.live_sessions.of_artist("nobody")) == []
