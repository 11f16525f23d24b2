"""Notifications: use cases announce what happened; a job fans it out to the fans it concerns.

Fan-out runs on the job queue, never in the request. Each recipient is checked against their
entitlements when the job runs, and each notification's id comes from (kind, subject, fan), so a
job run twice (a worker restarted, a redelivery) stores and emails each notification once.
Email goes out after the feed is committed, only for kinds the fan chose and to verified
addresses: at most once per notification (a crash between commit and sending skips that email).

A release with a ``release_at`` opens twice: to supporters+ (early access), then to everyone.
``sweep_releases``, a job the scheduler queues every ``Settings.release_sweep_s``, announces the
openings that passed since the previous sweep (a watermark kept with the notifications). Both
openings share the notification id (kind, track, fan), so a supporter told at early access is not
told again at the public release, and a sweep run twice, or by two workers, notifies nobody twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from musicconnect.domain.accounts import Caller
from musicconnect.domain.entitlements import entitlements
from musicconnect.domain.errors import Conflict, DomainError, InvalidInput
from musicconnect.domain.events import LiveSessionEvent, LiveSessionStarted
from musicconnect.domain.notifications import (
    MAX_FEED,
    REQUIRED_FEATURE,
    Announcement,
    Notification,
    NotificationKind,
    notification_for,
)
from musicconnect.domain.tracks import Track, TrackStatus, can_see, openings, releases_opening_between
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, EmailMessage, EmailSender, EventPublisher, Job, JobQueue
from musicconnect.usecases.access import require_fan

log = logging.getLogger(__name__)

NOTIFY_JOB: Final = "fan_out_notification"
SWEEP_RELEASES_JOB: Final = "sweep_releases"
#: How far back the very first sweep looks: openings older than that were announced, if at all,
#: when their track was published, and announcing them now would be news nobody wants.
FIRST_SWEEP_LOOKBACK: Final = timedelta(hours=1)


@attrs.frozen
class Notifications:
    """The notification use cases, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    jobs: JobQueue
    email: EmailSender
    clock: Clock

    # --- announcing (called by other use cases) ----------------------------------------------

    def announce(self, announcement: Announcement) -> None:
        """Queue the fan-out; the same announcement queued again while it waits is one job."""
        try:
            self._queue(announcement)
        except DomainError as error:
            # What was announced is done and committed; a missed notification is not worth failing it.
            log.warning("could not queue notification %s: %s", announcement.key, error.detail)

    def _queue(self, announcement: Announcement) -> None:
        payload = {
            "kind": announcement.kind.value,
            "artist_id": announcement.artist_id,
            "subject_id": announcement.subject_id,
            "text": announcement.text,
            "at": announcement.at.isoformat(),
            "fan_ids": list(announcement.fan_ids),
        }
        # The instant is part of the job's key: a release opening to supporters, then to everyone,
        # is two jobs, where the same opening queued twice (two sweeping workers) is one.
        key = f"notify:{announcement.key}:{announcement.at.isoformat()}"
        self.jobs.enqueue(Job(NOTIFY_JOB, payload, key=key))

    def live_session_starting(self, artist_id: str, session_id: str, title: str) -> None:
        """For live sessions: tell the artist's superfans that ``session_id`` is starting."""
        self.announce(
            Announcement(
                NotificationKind.LIVE_SESSION_STARTING,
                artist_id,
                session_id,
                f"Live now: {title}",
                self.clock.now(),
            )
        )

    def announce_release(self, track_id: str) -> None:
        """A published track opens to the followers who may see it now (early access or public);
        nothing for a track that is not ready. Those it opens to later hear of it from the sweep."""
        with self.uow() as uow:
            track = uow.tracks.get(track_id)
            artist = uow.artists.get(track.artist_id) if track is not None else None
        if track is not None and artist is not None and track.status is TrackStatus.READY:
            self.announce(_release(track, artist.display_name, self.clock.now()))

    # --- the release sweep (a scheduled job) ----------------------------------------------------

    def sweep_releases(self) -> int:
        """Announce every release opening (early access or public) that passed since the last
        sweep; returns how many were announced. The watermark moves only after they are queued,
        so a sweep that dies on the way is done again by the next one (the fan-out is idempotent)."""
        now = self.clock.now()
        with self.uow() as uow:
            since = uow.notifications.releases_swept_until() or now - FIRST_SWEEP_LOOKBACK
            if since >= now:
                return 0
            candidates = {
                track.id: track
                for window in releases_opening_between(since, now)
                for track in uow.tracks.releasing_between(*window)
            }
            names = {
                artist_id: artist.display_name
                for artist_id in {track.artist_id for track in candidates.values()}
                if (artist := uow.artists.get(artist_id)) is not None
            }
        opened = sorted(
            (at, track.id) for track in candidates.values() for at in openings(track) if since < at <= now
        )
        announced = 0
        for at, track_id in opened:
            track = candidates[track_id]
            # Still processing: publishing it announces it. A queue that cannot be reached fails
            # the sweep before the watermark moves, so the next one tries these again.
            if track.artist_id in names and track.status is TrackStatus.READY:
                self._queue(_release(track, names[track.artist_id], at))
                announced += 1
        with self.uow() as uow:
            uow.notifications.mark_releases_swept(now)
            uow.commit()
        return announced

    def queue_release_sweep(self) -> None:
        """Queue ``sweep_releases`` as a job (one at a time: a sweep already waiting is enough)."""
        self.jobs.enqueue(Job(SWEEP_RELEASES_JOB, {}, key=SWEEP_RELEASES_JOB))

    def run_sweep_job(self, payload: Mapping[str, Any]) -> None:  # noqa: ARG002 - a job's shape
        """The ``SWEEP_RELEASES_JOB`` handler the job queue runs."""
        self.sweep_releases()

    # --- fanning out (the job) ----------------------------------------------------------------

    def fan_out(self, payload: Mapping[str, Any]) -> int:
        """Store the announcement's notifications; returns how many were new."""
        announcement = Announcement(
            kind=NotificationKind(payload["kind"]),
            artist_id=str(payload["artist_id"]),
            subject_id=str(payload["subject_id"]),
            text=str(payload["text"]),
            at=datetime.fromisoformat(str(payload["at"])),
            fan_ids=tuple(str(f) for f in payload.get("fan_ids", ())),
        )
        new: list[Notification] = []
        with self.uow() as uow:
            for fan_id in self._recipients(uow, announcement):
                notification = notification_for(announcement, fan_id)
                if uow.notifications.add(notification):
                    new.append(notification)
            try:
                uow.commit()
            except Conflict:
                return 0  # another worker fanned the same announcement out meanwhile
        self._email(new)
        return len(new)

    def run_fan_out_job(self, payload: Mapping[str, Any]) -> None:
        """The ``NOTIFY_JOB`` handler the job queue runs (``fan_out``, its count dropped)."""
        self.fan_out(payload)

    def _recipients(self, uow: UnitOfWork, announcement: Announcement) -> list[str]:
        now = self.clock.now()
        artist_id = announcement.artist_id
        if announcement.fan_ids:
            candidates = list(dict.fromkeys(announcement.fan_ids))
        else:
            followers = uow.fans.followers(artist_id)
            subscribers = [s.fan_id for s in uow.subscriptions.live_of_artist(artist_id)]
            candidates = list(dict.fromkeys([*followers, *subscribers]))
        feature = REQUIRED_FEATURE[announcement.kind]
        track = (
            uow.tracks.get(announcement.subject_id)
            if announcement.kind is NotificationKind.RELEASE_OPEN
            else None
        )
        chosen = []
        for fan_id in candidates:
            rights = entitlements(uow.subscriptions.live_for(fan_id, artist_id), now)
            if feature is not None and not rights.has(feature):
                continue
            # Whom the release had opened to at its announced opening: a sweep that runs late, over
            # both openings at once, still tells free fans of the public one, not the early one.
            if track is not None and not can_see(track, rights=rights, now=announcement.at):
                continue
            chosen.append(fan_id)
        return chosen

    def _email(self, notifications: Sequence[Notification]) -> None:
        for notification in notifications:
            with self.uow() as uow:
                wanted = notification.kind in uow.notifications.email_kinds(notification.fan_id)
                account = uow.accounts.get(notification.fan_id) if wanted else None
            if account is None or not account.email_verified:
                continue
            try:
                self.email.send(
                    EmailMessage(to=account.email, subject=notification.text, body=notification.text)
                )
            except DomainError as error:
                log.warning("could not email notification %s: %s", notification.id, error.detail)

    # --- the fan's feed -----------------------------------------------------------------------

    def feed(self, *, caller: Caller, limit: int = MAX_FEED) -> Sequence[Notification]:
        require_fan(caller)
        if not 1 <= limit <= MAX_FEED:
            raise InvalidInput(f"limit must be 1 to {MAX_FEED}")
        with self.uow() as uow:
            return uow.notifications.of_fan(caller.id, limit)

    def mark_read(self, ids: Sequence[str] | None, *, caller: Caller) -> None:
        """Mark these of the caller's notifications read (every one: None)."""
        require_fan(caller)
        with self.uow() as uow:
            uow.notifications.mark_read(caller.id, ids, self.clock.now())
            uow.commit()

    def email_kinds(self, *, caller: Caller) -> frozenset[NotificationKind]:
        require_fan(caller)
        with self.uow() as uow:
            return uow.notifications.email_kinds(caller.id)

    def choose_email(
        self, kinds: frozenset[NotificationKind], *, caller: Caller
    ) -> frozenset[NotificationKind]:
        """The kinds the caller also wants by email (replacing the previous choice)."""
        require_fan(caller)
        with self.uow() as uow:
            uow.notifications.set_email_kinds(caller.id, kinds)
            uow.commit()
        return kinds


def _release(track: Track, artist_name: str, at: datetime) -> Announcement:
    text = f"{artist_name} released “{track.title}”"
    return Announcement(NotificationKind.RELEASE_OPEN, track.artist_id, track.id, text, at)


@attrs.frozen
class NotifyingPublisher:
    """An ``EventPublisher`` that tells ``notifications`` of a live session starting (its
    superfans are notified) and then hands every event on to ``then``."""

    notifications: Notifications
    then: EventPublisher

    def publish(self, event: LiveSessionEvent) -> None:
        if isinstance(event, LiveSessionStarted):
            self.notifications.live_session_starting(event.artist_id, event.session_id, event.title)
        self.then.publish(event)
