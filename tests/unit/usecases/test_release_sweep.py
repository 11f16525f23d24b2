"""The release sweep: each follower hears of a release when it opens to them, once.

A track with a ``release_at`` opens to supporters+ a day early and to everyone at ``release_at``.
These tests move a frozen clock across both openings and run the sweep the scheduler would run,
on the in-memory platform (its job queue runs each fan-out at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicconnect import IngestTrack, Register, Tier
from musicconnect.adapters.memory import FrozenClock, InMemoryEmailSender
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.entitlements import entitlements
from musicconnect.domain.errors import ServiceUnavailable
from musicconnect.domain.notifications import Notification, NotificationKind
from musicconnect.domain.tracks import EARLY_ACCESS, Track, TrackStatus, visible_from
from musicconnect.platform import Platform
from musicconnect.ports.services import Job
from musicconnect.testing import in_memory, write_wav
from musicconnect.usecases.notifications import FIRST_SWEEP_LOOKBACK, NOTIFY_JOB, Notifications
from tests.support.accounts import link_token

START: Final = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
PASSWORD: Final = "correct horse battery"
TIERS: Final = (Tier.FREE, Tier.SUPPORTER, Tier.SUPERFAN)


@attrs.define
class Scene:
    """An artist, one following fan per tier, and the platform they are on."""

    platform: Platform
    clock: FrozenClock
    outbox: InMemoryEmailSender
    artist: Caller
    fans: dict[Tier, Caller]
    folder: Path
    emails: dict[str, str] = attrs.field(factory=dict)
    _count: int = 0

    def person(self, role: Role, *, verified: bool = True) -> Caller:
        self._count += 1
        email = f"{role.value}{self._count}@example.com"
        account = self.platform.accounts.register(
            Register(email=email, password=PASSWORD, role=role, display_name=f"{role.value} {self._count}")
        )
        if verified:
            self.platform.profiles.confirm_email(link_token(self.outbox.sent(email)[-1]))
        self.emails[account.id] = email
        return Caller(account.id, account.role)

    def following_fan(self, tier: Tier, *, verified: bool = True) -> Caller:
        fan = self.person(Role.FAN, verified=verified)
        if tier is not Tier.FREE:
            self.platform.billing.subscribe(self.artist.id, tier, caller=fan)
        self.platform.library.follow(self.artist.id, caller=fan)
        return fan

    def release(self, release_at: datetime | None, *, exclusive: bool = False) -> Track:
        self._count += 1
        upload = write_wav(self.folder / f"song-{self._count}.wav", seconds=1.0)
        command = IngestTrack(
            artist_id=self.artist.id,
            title="Nuits blanches",
            upload=upload,
            release_at=release_at,
            exclusive=exclusive,
        )
        return self.platform.tracks.ingest(command, caller=self.artist)

    def track(self, track_id: str) -> Track:
        with self.platform.services.uow() as uow:
            found = uow.tracks.get(track_id)
        assert found is not None
        return found

    def feed(self, fan: Caller) -> list[Notification]:
        return list(self.platform.notifications.feed(caller=fan))

    def releases_heard(self) -> dict[Tier, list[datetime]]:
        return {
            tier: [n.created_at for n in self.feed(fan) if n.kind is NotificationKind.RELEASE_OPEN]
            for tier, fan in self.fans.items()
        }

    def sweep_at(self, moment: datetime) -> int:
        self.clock.set(moment)
        return self.platform.notifications.sweep_releases()


def _scene(folder: Path) -> Scene:
    clock = FrozenClock(START)
    outbox = InMemoryEmailSender()
    scene = Scene(in_memory(clock=clock, email=outbox), clock, outbox, Caller("", Role.ARTIST), {}, folder)
    scene.artist = scene.person(Role.ARTIST)
    scene.fans = {tier: scene.following_fan(tier) for tier in TIERS}
    return scene


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return _scene(tmp_path)


def test_each_follower_hears_of_a_release_when_it_opens_to_them_and_only_once(scene: Scene) -> None:
    """Nothing before early access; supporters and superfans at ``release_at - 24h`` (dated
    then); free followers at ``release_at``; a sweep run again, or later, adds nothing."""
    release_at = START + timedelta(days=3)
    scene.release(release_at)
    early = release_at - EARLY_ACCESS
    nobody: dict[Tier, list[datetime]] = {tier: [] for tier in TIERS}

    assert scene.sweep_at(START + timedelta(minutes=1)) == 0
    assert scene.sweep_at(early - timedelta(microseconds=1)) == 0
    assert scene.releases_heard() == nobody

    assert scene.sweep_at(early) == 1
    assert scene.releases_heard() == {Tier.FREE: [], Tier.SUPPORTER: [early], Tier.SUPERFAN: [early]}
    assert scene.sweep_at(early) == 0  # a second sweep at the same instant

    assert scene.sweep_at(release_at - timedelta(microseconds=1)) == 0
    assert scene.sweep_at(release_at + timedelta(seconds=40)) == 1
    opened = {Tier.FREE: [release_at], Tier.SUPPORTER: [early], Tier.SUPERFAN: [early]}
    assert scene.releases_heard() == opened
    assert scene.sweep_at(release_at + timedelta(days=2)) == 0
    assert scene.releases_heard() == opened


def test_one_sweep_after_a_long_pause_announces_both_openings_once(scene: Scene) -> None:
    """Workers down over both openings: the next sweep tells everyone, each fan once and dated
    when it opened to them (a free fan by the public opening, not the early one)."""
    release_at = START + timedelta(days=2)
    scene.release(release_at)
    scene.sweep_at(START)

    assert scene.sweep_at(release_at + timedelta(hours=5)) == 2

    early = release_at - EARLY_ACCESS
    opened = {Tier.FREE: [release_at], Tier.SUPPORTER: [early], Tier.SUPERFAN: [early]}
    assert scene.releases_heard() == opened


def test_an_exclusive_never_reaches_a_free_follower(scene: Scene) -> None:
    """Exclusive tracks open to supporters+ at early access and to nobody else ever."""
    release_at = START + timedelta(days=2)
    scene.release(release_at, exclusive=True)

    for moment in (release_at - EARLY_ACCESS, release_at, release_at + timedelta(days=30)):
        scene.sweep_at(moment)

    assert {tier: len(at) for tier, at in scene.releases_heard().items()} == {
        Tier.FREE: 0,
        Tier.SUPPORTER: 1,
        Tier.SUPERFAN: 1,
    }


def test_a_track_still_processing_at_its_opening_is_announced_when_published(scene: Scene) -> None:
    """The sweep skips a track not yet published; publishing announces it to those it opened to,
    and the public opening later reaches the free follower."""
    release_at = START + timedelta(days=2)
    published = scene.track(scene.release(release_at).id)
    assert published.status is TrackStatus.READY
    slow = attrs.evolve(published, id="slow")
    with scene.platform.services.uow() as uow:
        uow.tracks.add(attrs.evolve(slow, status=TrackStatus.PROCESSING))
        uow.commit()

    assert scene.sweep_at(release_at - EARLY_ACCESS + timedelta(minutes=1)) == 1  # only the published one
    heard_of_slow = {
        tier: [n for n in scene.feed(fan) if n.subject_id == "slow"] for tier, fan in scene.fans.items()
    }
    assert heard_of_slow == {tier: [] for tier in TIERS}

    scene.clock.advance(timedelta(minutes=5))
    with scene.platform.services.uow() as uow:
        uow.tracks.save(slow)  # published (it had its ladder already)
        uow.commit()
    scene.platform.notifications.announce_release("slow")
    scene.sweep_at(release_at)

    heard = {
        tier: [n.created_at for n in scene.feed(fan) if n.subject_id == "slow"]
        for tier, fan in scene.fans.items()
    }
    published_at = release_at - EARLY_ACCESS + timedelta(minutes=6)
    assert heard == {Tier.FREE: [release_at], Tier.SUPPORTER: [published_at], Tier.SUPERFAN: [published_at]}


def test_a_sweep_that_cannot_queue_keeps_its_watermark_and_the_next_one_catches_up(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue down at the opening: the sweep fails before moving its watermark, nobody is
    told; once the queue is back, the next sweep tells each follower once."""
    release_at = START + timedelta(days=2)
    scene.release(release_at)
    scene.sweep_at(START)
    notifications = scene.platform.notifications
    queue = scene.platform.services.jobs

    def down(job: Job) -> None:
        raise ServiceUnavailable("redis is down")

    monkeypatch.setattr(queue, "enqueue", down)
    scene.clock.set(release_at)
    with pytest.raises(ServiceUnavailable):
        notifications.sweep_releases()
    with scene.platform.services.uow() as uow:
        assert uow.notifications.releases_swept_until() == START
    monkeypatch.undo()

    assert scene.sweep_at(release_at + timedelta(minutes=1)) == 2
    assert {tier: len(at) for tier, at in scene.releases_heard().items()} == dict.fromkeys(TIERS, 1)


def test_fan_outs_run_again_or_twice_store_and_email_each_notification_once(tmp_path: Path) -> None:
    """Every fan-out job a sweep queued, run a second time (a worker killed and restarted, two
    workers on one redelivered job), adds no notification and sends no email."""
    scene = _scene(tmp_path)
    for fan in scene.fans.values():
        scene.platform.notifications.choose_email(frozenset({NotificationKind.RELEASE_OPEN}), caller=fan)
    queued: list[Mapping[str, Any]] = []
    recorder = Notifications(
        scene.platform.services.uow,
        _Recording(queued),
        scene.platform.services.email,
        scene.clock,
    )
    release_at = START + timedelta(days=2)
    scene.release(release_at)
    recorder.sweep_releases()  # the first sweep, before either opening
    scene.clock.set(release_at + timedelta(minutes=1))
    recorder.sweep_releases()
    assert [p["at"] for p in queued] == [(release_at - EARLY_ACCESS).isoformat(), release_at.isoformat()]

    for payload in [*queued, *queued]:
        scene.platform.notifications.fan_out(payload)
    stored = scene.releases_heard()
    mailed = {tier: len(scene.outbox.sent(scene.emails[fan.id])) for tier, fan in scene.fans.items()}
    for payload in queued:
        assert scene.platform.notifications.fan_out(payload) == 0

    assert {tier: len(at) for tier, at in stored.items()} == dict.fromkeys(TIERS, 1)
    assert scene.releases_heard() == stored
    # One verification email each, then one release email each.
    assert mailed == dict.fromkeys(TIERS, 2)


def test_release_emails_go_only_to_verified_fans_who_chose_them(scene: Scene) -> None:
    """Through the email port: the verified fan who chose release emails gets one (at early
    access, not again at the public release); one who did not choose, or is unverified, none."""
    unverified = scene.following_fan(Tier.SUPPORTER, verified=False)
    chooser = scene.fans[Tier.SUPPORTER]
    for fan in (chooser, unverified):
        scene.platform.notifications.choose_email(frozenset({NotificationKind.RELEASE_OPEN}), caller=fan)
    before = {
        fan.id: len(scene.outbox.sent(scene.emails[fan.id])) for fan in (*scene.fans.values(), unverified)
    }
    release_at = START + timedelta(days=2)
    scene.release(release_at)

    scene.sweep_at(release_at - EARLY_ACCESS)
    scene.sweep_at(release_at)

    new = {
        fan.id: [m.subject for m in scene.outbox.sent(scene.emails[fan.id])[before[fan.id] :]]
        for fan in (*scene.fans.values(), unverified)
    }
    assert new[chooser.id] == [f"{_artist_name(scene)} released “Nuits blanches”"]
    assert new[unverified.id] == []
    assert new[scene.fans[Tier.FREE].id] == new[scene.fans[Tier.SUPERFAN].id] == []
    assert len(scene.feed(unverified)) == 1  # in the feed all the same


def test_the_first_sweep_looks_back_a_bounded_while(scene: Scene) -> None:
    """With no watermark, openings older than FIRST_SWEEP_LOOKBACK are not announced: they
    predate the sweep (announced, if at all, when published)."""
    old = scene.release(START + timedelta(days=1))
    recent = scene.release(START + timedelta(days=2))
    scene.clock.set(START + timedelta(days=2) + FIRST_SWEEP_LOOKBACK / 2)

    scene.platform.notifications.sweep_releases()

    subjects = {n.subject_id for n in scene.feed(scene.fans[Tier.FREE])}
    assert subjects == {recent.id}
    assert old.id not in subjects


@settings(max_examples=40, deadline=None)
@given(
    release_in_h=st.integers(min_value=1, max_value=24 * 5),
    exclusive=st.booleans(),
    sweeps_after_min=st.lists(st.integers(min_value=0, max_value=24 * 7 * 60), min_size=1, max_size=8),
)
def test_after_any_sweeps_each_follower_has_heard_exactly_when_the_release_opened_to_them(
    tmp_path_factory: pytest.TempPathFactory,
    release_in_h: int,
    exclusive: bool,  # noqa: FBT001 - drawn by hypothesis
    sweeps_after_min: list[int],
) -> None:
    """Whatever the release time and however the sweeps fall: after a sweep at ``t``, a follower
    has one notification, dated when it opened to them (or was published, if later), if it opened
    to them by ``t``, else none."""
    scene = _scene(tmp_path_factory.mktemp("sweep"))
    release_at = START + timedelta(hours=release_in_h)
    track = scene.release(release_at, exclusive=exclusive)
    scene.sweep_at(START)  # the scheduler sweeps as soon as the platform runs

    for minutes in sorted(sweeps_after_min):
        moment = START + timedelta(minutes=minutes)
        scene.sweep_at(moment)
        for tier, fan in scene.fans.items():
            with scene.platform.services.uow() as uow:
                opens = visible_from(
                    track, entitlements(uow.subscriptions.live_for(fan.id, scene.artist.id), moment)
                )
            # Published at START: an opening before then is announced by publishing, dated then.
            expected = [max(opens, START)] if opens is not None and opens <= moment else []
            assert scene.releases_heard()[tier] == expected, (tier, moment)


def _artist_name(scene: Scene) -> str:
    with scene.platform.services.uow() as uow:
        artist = uow.artists.get(scene.artist.id)
    assert artist is not None
    return artist.display_name


@attrs.frozen
class _Recording:
    """A job queue that only keeps the payloads of the fan-outs queued."""

    payloads: list[Mapping[str, Any]]

    def enqueue(self, job: Job) -> None:
        assert job.name == NOTIFY_JOB
        self.payloads.append(job.payload)
