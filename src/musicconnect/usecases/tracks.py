"""Uploading a track, transcoding it into the ladder and publishing it atomically."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import attrs

from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.entitlements import Entitlements, entitlements, entitlements_for_tier
from musicconnect.domain.errors import DomainError, MediaRejected, NotFound, ServiceUnavailable
from musicconnect.domain.events import TrackPublished
from musicconnect.domain.media import LADDER_KBPS, UploadPolicy
from musicconnect.domain.stranded import GIVE_UP_AFTER, REQUEUE_AFTER, SWEEP_EVERY, Verdict, verdict
from musicconnect.domain.text import clean_text
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import MAX_TITLE, Track, TrackEdit, TrackStatus, can_see, check_release_at
from musicconnect.ports.media import MediaProbe, MediaStorage, ProgressCallback, Transcoder
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator, Job, JobQueue
from musicconnect.usecases.access import require_artist, require_owner, require_track
from musicconnect.usecases.encoding import encode_stored
from musicconnect.usecases.notifications import Notifications

log = logging.getLogger(__name__)

TRANSCODE_JOB = "transcode_track"


def transcode_job(track_id: str) -> Job:
    return Job(name=TRANSCODE_JOB, payload={"track_id": track_id}, key=f"transcode:{track_id}")


@attrs.frozen
class IngestTrack:
    artist_id: str
    title: str
    upload: Path
    release_at: datetime | None = None
    exclusive: bool = False
    #: The lowest tier that may ever see it (a live session's recording: superfans).
    audience: Tier = Tier.FREE


def ingest_track(
    command: IngestTrack,
    *,
    caller: Caller,
    uow: UnitOfWork,
    probe: MediaProbe,
    storage: MediaStorage,
    jobs: JobQueue,
    ids: IdGenerator,
    clock: Clock,
    policy: UploadPolicy,
) -> Track:
    """Validate an upload, keep the original, and queue its transcode. Rejected input stores nothing."""
    require_owner(caller, command.artist_id)
    title = clean_text(command.title, field="title", max_chars=MAX_TITLE)
    release_at = check_release_at(command.release_at)
    # Who may upload is settled before ffprobe spends a process on the file.
    with uow:
        require_artist(uow, command.artist_id)
    probe.probe(command.upload, policy)
    with uow:
        require_artist(uow, command.artist_id)
        track = Track(
            id=ids.new_id(),
            artist_id=command.artist_id,
            title=title,
            created_at=clock.now(),
            release_at=release_at,
            exclusive=command.exclusive,
            audience=command.audience,
        )
        try:
            storage.put_file(track.original_key, command.upload, "application/octet-stream")
            uow.tracks.add(track)
            uow.commit()
        except BaseException:
            storage.delete_prefix(track.media_prefix + "/")  # no orphaned original
            raise
    try:
        jobs.enqueue(transcode_job(track.id))
    except ServiceUnavailable as error:
        # The upload is safe and committed; a worker's sweep (requeue_stranded) queues it later.
        log.warning(
            "track %s is stored but its transcode could not be queued yet: %s", track.id, error.detail
        )
    return track


#: The transcode's progress is stored each time it crosses another this many percent: a bar the
#: studio can show, at about twenty writes a track.
PROGRESS_STEP_PERCENT: Final = 5


class _ProgressRecorder:
    """Stores a transcode's progress on its track, at most once per ``PROGRESS_STEP_PERCENT``,
    and passes every report on to ``then`` (an operator's progress bar)."""

    def __init__(self, track_id: str, uow: UnitOfWork, then: ProgressCallback | None) -> None:
        self._track_id = track_id
        self._uow = uow
        self._then = then
        self._stored_step = -1

    def __call__(self, fraction: float) -> None:
        self._store(fraction)
        if self._then is not None:
            self._then(fraction)

    def _store(self, fraction: float) -> None:
        step = int(min(1.0, max(0.0, fraction)) * 100) // PROGRESS_STEP_PERCENT
        if step <= self._stored_step:
            return
        self._stored_step = step
        try:
            with self._uow:
                track = self._uow.tracks.get(self._track_id)
                if track is not None and track.status is TrackStatus.PROCESSING:
                    self._uow.tracks.save(track.transcoding(step * PROGRESS_STEP_PERCENT / 100))
                    self._uow.commit()
        except DomainError as error:
            # Progress is for the studio's bar: an edit saved meanwhile (Conflict) or a busy
            # database must never fail the transcode itself.
            log.info("transcode progress of %s not stored: %s", self._track_id, error.detail)


def transcode_track(
    track_id: str,
    *,
    uow: UnitOfWork,
    storage: MediaStorage,
    transcoder: Transcoder,
    progress: ProgressCallback | None = None,
) -> TrackPublished | None:
    """Encode a track's original into the ladder and publish it: segments, variants, master last.

    Safe to run again after a crash: it clears any earlier partial output first, and the track
    only turns ready after the master playlist (the last file) is stored. The transcode's progress
    is stored on the track as it goes (the studio shows it) and passed on to ``progress``.
    """
    with uow:
        track = require_track(uow, track_id)
    if track.status is TrackStatus.READY:
        return None
    try:
        ladder = encode_stored(
            track.original_key,
            track.hls_prefix,
            LADDER_KBPS,
            storage=storage,
            transcoder=transcoder,
            progress=_ProgressRecorder(track_id, uow, progress),
        )
    except MediaRejected as error:
        _mark_failed(track_id, str(error.detail), uow=uow)
        raise
    with uow:
        current = uow.tracks.get(track_id)
        gone = current is None or current.is_deleted
        if current is not None and not gone:
            uow.tracks.save(
                current.published(
                    duration_s=ladder.duration_s, rungs_kbps=ladder.rungs_kbps, rates=ladder.rates
                )
            )
            uow.commit()
    if gone:
        # Deleted while it transcoded: what this run stored is removed, never published.
        storage.delete_prefix(track.media_prefix + "/")
        log.info("track %s was deleted while it transcoded; its media is removed", track_id)
        return None
    log.info("published track %s with rungs %s", track_id, ladder.rungs_kbps)
    return TrackPublished(track_id=track_id, artist_id=track.artist_id, rungs_kbps=ladder.rungs_kbps)


def _mark_failed(track_id: str, reason: str, *, uow: UnitOfWork) -> None:
    with uow:
        track = require_track(uow, track_id)
        if track.status is TrackStatus.PROCESSING:  # a track published meanwhile stays published
            uow.tracks.save(track.failed(reason))
            uow.commit()


@attrs.frozen
class StrandedTracks:
    requeued: tuple[str, ...]
    given_up: tuple[str, ...]


def requeue_stranded(
    *,
    uow: UnitOfWork,
    jobs: JobQueue,
    clock: Clock,
    every: timedelta = SWEEP_EVERY,
    requeue_after: timedelta = REQUEUE_AFTER,
    give_up_after: timedelta = GIVE_UP_AFTER,
) -> StrandedTracks:
    """Queue again the transcodes of tracks left processing; fail those processing for longer than
    ``give_up_after``. Workers run this every ``every``.

    A track is queued again when its wait reaches ``requeue_after``, twice that, four times that,
    and so on, not on every sweep: a transcode that keeps failing (each job retried a few times
    by the queue) is tried a handful of times a day, never every minute. A sweep counts a wait as
    at such a mark for two of its intervals, so a late sweep does not miss one; queuing the same
    track twice in one mark is harmless, as its job is still waiting.
    """
    now = clock.now()
    with uow:
        processing = list(uow.tracks.processing())
    requeued: list[str] = []
    given_up: list[str] = []
    for track in processing:
        due = verdict(
            now - track.created_at, every=every, requeue_after=requeue_after, give_up_after=give_up_after
        )
        if due is Verdict.GIVE_UP:
            _mark_failed(track.id, f"the transcode did not finish within {give_up_after}", uow=uow)
            given_up.append(track.id)
        elif due is Verdict.REQUEUE:
            jobs.enqueue(transcode_job(track.id))
            requeued.append(track.id)
    return StrandedTracks(requeued=tuple(requeued), given_up=tuple(given_up))


def edit_track(track_id: str, edit: TrackEdit, *, caller: Caller, uow: UnitOfWork) -> Track:
    """The artist changes a track's title, description, required tier or release date. Saved
    through the invalidating unit of work, so every process streams by the new rules at once."""
    with uow:
        track = require_track(uow, track_id)
        require_owner(caller, track.artist_id)
        changed = track.edited(edit)
        if changed != track:
            uow.tracks.save(changed)
            uow.commit()
    return changed


def delete_track(track_id: str, *, caller: Caller, uow: UnitOfWork, storage: MediaStorage) -> None:
    """The artist deletes a track: it leaves the catalogue and stops streaming at once (a
    tombstone every reader treats as missing), then its original and ladder leave storage."""
    with uow:
        track = require_track(uow, track_id)
        require_owner(caller, track.artist_id)
        uow.tracks.save(track.deleted())
        uow.commit()
    try:
        storage.delete_prefix(track.media_prefix + "/")
    except DomainError as error:
        # The track is gone for everyone already; files left behind are unreachable (media is
        # served only for tracks that exist) and an operator can remove the prefix.
        log.warning("track %s is deleted but its media could not be removed: %s", track_id, error.detail)


def caller_rights(caller: Caller | None, artist_id: str, *, uow: UnitOfWork, clock: Clock) -> Entitlements:
    """What a caller may do with an artist right now (anonymous callers and others are free)."""
    if caller is None or caller.role is not Role.FAN:
        return entitlements_for_tier(Tier.FREE)
    return entitlements(uow.subscriptions.live_for(caller.id, artist_id), clock.now())


def view_track(track_id: str, *, caller: Caller | None, uow: UnitOfWork, clock: Clock) -> Track:
    """A track's details, for whoever may see it; hidden tracks look like missing ones."""
    with uow:
        track = require_track(uow, track_id)
        rights = caller_rights(caller, track.artist_id, uow=uow, clock=clock)
    is_owner = caller is not None and (caller.id == track.artist_id or caller.is_admin)
    if not can_see(track, rights=rights, now=clock.now(), is_owner=is_owner):
        raise NotFound(f"no track {track_id}")
    return track


def tracks_of_artist(
    artist_id: str,
    *,
    caller: Caller | None,
    uow: UnitOfWork,
    clock: Clock,
) -> list[Track]:
    with uow:
        require_artist(uow, artist_id)
        tracks = uow.tracks.by_artist(artist_id)
        rights = caller_rights(caller, artist_id, uow=uow, clock=clock)
    is_owner = caller is not None and (caller.id == artist_id or caller.is_admin)
    now = clock.now()
    return [t for t in tracks if can_see(t, rights=rights, now=now, is_owner=is_owner)]


WAVEFORM_FILE = "peaks.json"


def waveform(
    track_id: str,
    *,
    caller: Caller | None,
    uow: UnitOfWork,
    storage: MediaStorage,
    clock: Clock,
) -> bytes:
    """The waveform peaks a player draws (JSON written by the transcoder), for whoever may see it."""
    track = view_track(track_id, caller=caller, uow=uow, clock=clock)
    if track.status is not TrackStatus.READY:
        raise NotFound(f"track {track_id} has no waveform yet")
    return storage.get_bytes(f"{track.hls_prefix}/{WAVEFORM_FILE}")


@attrs.frozen
class Tracks:
    """Uploading, transcoding and reading tracks: the track use cases, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    probe: MediaProbe
    storage: MediaStorage
    transcoder: Transcoder
    jobs: JobQueue
    ids: IdGenerator
    clock: Clock
    policy: UploadPolicy
    #: Told when a transcode publishes a track, to announce it to the fans who may see it.
    notifications: Notifications | None = None

    def ingest(self, command: IngestTrack, *, caller: Caller) -> Track:
        """Validate and store an upload, then queue its transcode (see ``ingest_track``)."""
        return ingest_track(
            command,
            caller=caller,
            uow=self.uow(),
            probe=self.probe,
            storage=self.storage,
            jobs=self.jobs,
            ids=self.ids,
            clock=self.clock,
            policy=self.policy,
        )

    def transcode(self, track_id: str, *, progress: ProgressCallback | None = None) -> TrackPublished | None:
        """Transcode a stored upload into the HLS ladder and publish it (what a job runs); a
        published track is announced to the fans who may see it."""
        published = transcode_track(
            track_id, uow=self.uow(), storage=self.storage, transcoder=self.transcoder, progress=progress
        )
        if published is not None and self.notifications is not None:
            self.notifications.announce_release(track_id)
        return published

    def requeue_stranded(self) -> StrandedTracks:
        """Queue again the transcodes of tracks left processing (see ``requeue_stranded``)."""
        return requeue_stranded(uow=self.uow(), jobs=self.jobs, clock=self.clock)

    def view(self, track_id: str, *, caller: Caller | None) -> Track:
        """A track's status and details, for whoever may see it."""
        return view_track(track_id, caller=caller, uow=self.uow(), clock=self.clock)

    def of_artist(self, artist_id: str, *, caller: Caller | None) -> list[Track]:
        """The artist's tracks that the caller may see."""
        return tracks_of_artist(artist_id, caller=caller, uow=self.uow(), clock=self.clock)

    def edit(self, track_id: str, edit: TrackEdit, *, caller: Caller) -> Track:
        """Change a track's title, description, required tier or release date (see ``edit_track``)."""
        return edit_track(track_id, edit, caller=caller, uow=self.uow())

    def delete(self, track_id: str, *, caller: Caller) -> None:
        """Delete a track and its media (see ``delete_track``)."""
        delete_track(track_id, caller=caller, uow=self.uow(), storage=self.storage)

    def waveform(self, track_id: str, *, caller: Caller | None) -> bytes:
        """Waveform peaks for a player, as JSON."""
        return waveform(track_id, caller=caller, uow=self.uow(), storage=self.storage, clock=self.clock)
