"""Live sessions: scheduling, the ingest server's callbacks, listening, and keeping the recording.

The RTMP server asks ``accept_push`` whether a stream key may publish and tells ``push_ended`` when
it stops; ``sweep`` (run by the ingest command, and by anyone who wants) writes down what the clock
decided (a push gone for the grace period ends the session, a silent one fails it) and queues the
job that turns what was recorded into a track for superfans (``finish``).
"""

from __future__ import annotations

import hmac
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs

from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.entitlements import Entitlements
from musicconnect.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    MediaRejected,
    NotFound,
    ServiceUnavailable,
)
from musicconnect.domain.events import LiveSessionEnded, LiveSessionScheduled, LiveSessionStarted
from musicconnect.domain.live import (
    DEFAULT_GRACE,
    DEFAULT_STALL,
    MAX_TITLE,
    LiveSession,
    LiveStatus,
    check_starts_at,
    hash_secret,
    new_secret,
    split_key,
    stream_key,
)
from musicconnect.domain.media import LADDER_KBPS, VARIANT_PLAYLIST, content_type_for, rung_folder
from musicconnect.domain.text import clean_text
from musicconnect.domain.tiers import Feature, Tier
from musicconnect.domain.tracks import Track
from musicconnect.ports.media import MediaStorage, RecordingPacker, UrlSigner
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Cache, Clock, EventPublisher, IdGenerator, Job, JobQueue
from musicconnect.usecases.access import is_owner, require_artist, require_owner
from musicconnect.usecases.streaming import (
    DEFAULT_URL_TTL,
    MediaFile,
    parse_rung,
    sign_playlist,
    signed_master,
    standing_entitlements,
    url_expiry,
    verified_listener,
)
from musicconnect.usecases.tracks import IngestTrack, Tracks

log = logging.getLogger(__name__)

FINISH_JOB: Final = "finish_live_session"
#: The live ladder is the tracks' ladder: a fan's cap means the same live and recorded.
LIVE_LADDER_KBPS: Final = LADDER_KBPS
#: Recorded parts end with this (ADTS AAC: parts of several pushes join end to end).
RECORDING_SUFFIX: Final = ".aac"


def finish_job(session_id: str) -> Job:
    return Job(name=FINISH_JOB, payload={"session_id": session_id}, key=f"live-finish:{session_id}")


def live_media_path(session: LiveSession, kbps: int, filename: str) -> str:
    """The delivery path of one live rung's file: its storage key, under ``/media``."""
    return f"/media/{session.hls_prefix}/{rung_folder(kbps)}/{filename}"


@attrs.frozen
class IssuedKey:
    """A session with the key to push to it: shown to the artist once, stored only hashed."""

    session: LiveSession
    stream_key: str
    ingest_url: str


@attrs.frozen
class LiveSessions:
    """The live-session use cases, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    storage: MediaStorage
    signer: UrlSigner
    cache: Cache
    events: EventPublisher
    jobs: JobQueue
    ids: IdGenerator
    clock: Clock
    #: Where the recording goes: through the normal ingest pipeline, as an upload would.
    tracks: Tracks
    packer: RecordingPacker
    #: Where OBS or ffmpeg pushes (``rtmp://host:port/live``); the stream key names the session.
    ingest_url: str
    #: What the RTMP server's callbacks carry to prove they are its own (its config holds it).
    ingest_token: str
    grace: timedelta = DEFAULT_GRACE
    stall: timedelta = DEFAULT_STALL
    url_ttl: timedelta = DEFAULT_URL_TTL

    # --- the artist --------------------------------------------------------------------------

    def schedule(self, artist_id: str, *, title: str, starts_at: datetime, caller: Caller) -> IssuedKey:
        require_owner(caller, artist_id)
        clean_title = clean_text(title, field="title", max_chars=MAX_TITLE)
        starts_at = check_starts_at(starts_at, now=self.clock.now())
        secret = new_secret()
        with self.uow() as uow:
            require_artist(uow, artist_id)
            session = LiveSession(
                id=self.ids.new_id(),
                artist_id=artist_id,
                title=clean_title,
                starts_at=starts_at,
                created_at=self.clock.now(),
                key_hash=hash_secret(secret),
            )
            uow.live_sessions.add(session)
            uow.commit()
        self._publish(LiveSessionScheduled(session.id, artist_id, session.title, session.starts_at))
        return IssuedKey(session, stream_key(session.id, secret), self.ingest_url)

    def rotate_key(self, session_id: str, *, caller: Caller) -> IssuedKey:
        """A new stream key; the old one is refused from now on."""
        secret = new_secret()
        with self.uow() as uow:
            session = self._require(uow, session_id)
            require_owner(caller, session.artist_id)
            session = session.with_key(hash_secret(secret))
            uow.live_sessions.save(session)
            uow.commit()
        return IssuedKey(session, stream_key(session.id, secret), self.ingest_url)

    def end(self, session_id: str, *, caller: Caller) -> LiveSession:
        """The artist ends the session (or calls a scheduled one off); the recording is kept."""
        with self.uow() as uow:
            session = self._require(uow, session_id)
            require_owner(caller, session.artist_id)
        return self._change(session_id, lambda s: s.ended(self.clock.now()))

    def view(self, session_id: str) -> LiveSession:
        """A session as it stands now (one the clock has ended reads as ended)."""
        with self.uow() as uow:
            return self._settled(self._require(uow, session_id))

    def of_artist(self, artist_id: str) -> Sequence[LiveSession]:
        with self.uow() as uow:
            require_artist(uow, artist_id)
            return [self._settled(s) for s in uow.live_sessions.of_artist(artist_id)]

    # --- the ingest server -------------------------------------------------------------------

    def check_ingest_token(self, token: str) -> None:
        """Forbidden unless ``token`` is our RTMP server's: only it may report pushes."""
        if not hmac.compare_digest(token.encode(), self.ingest_token.encode()):
            raise Forbidden("not our ingest server")

    def accept_push(self, key: str) -> LiveSession:
        """May ``key`` publish now? Only its own session's key, only while scheduled or live, and
        only one push at a time. Forbidden (or Conflict for a second push) when not."""
        before = self._keyed(key)
        after = self._change(before.id, lambda s: self._checked(s, key).published(self.clock.now()))
        if before.status is LiveStatus.SCHEDULED:
            self._publish(LiveSessionStarted(after.id, after.artist_id, after.title, self.clock.now()))
        log.info("live session %s: push accepted", after.id)
        return after

    def push_ended(self, key: str) -> LiveSession:
        """The push went away: the session ends unless it comes back within the grace period."""
        session_id = self._keyed(key).id
        return self._change(session_id, lambda s: self._checked(s, key).push_ended(self.clock.now()))

    def relaying(self, key: str) -> LiveSession:
        """The session a connected push (and its transcoder) may go on feeding: the key is still
        its current one and the session is live with a push connected. Forbidden otherwise, and
        the ingest server then drops the push (a rotated key or an ended session stops it)."""
        session = self._settled(self._keyed(key))
        if session.status is not LiveStatus.LIVE or not session.publishing:
            raise Forbidden(f"live session {session.id} has no push to transcode")
        return session

    def media_published(self, session_id: str) -> LiveSession:
        """The transcoder's heartbeat: media arrived, so the session is not stalled. Returns the
        session, so a transcoder whose session is over stops."""
        with self.uow() as uow:
            session = self._settled(self._require(uow, session_id))
        if session.is_over:
            return session  # the sweep writes it down and keeps the recording, not a passing relay
        try:
            return self._change(session_id, lambda s: s.media_published(self.clock.now()))
        except Conflict:
            log.info("live session %s changed during a heartbeat; the next one counts", session_id)
            return session

    def sweep(self) -> Sequence[LiveSession]:
        """Write down the sessions the clock ended or failed, and queue their recordings."""
        with self.uow() as uow:
            due = [s.id for s in uow.live_sessions.live() if self._settled(s).is_over]
        settled: list[LiveSession] = []
        for session_id in due:
            try:
                settled.append(self._change(session_id, self._settled))
            except Conflict:
                log.info("live session %s changed during the sweep; the next sweep looks again", session_id)
        return settled

    # --- listeners ---------------------------------------------------------------------------

    def authorise_stream(self, session_id: str, *, caller: Caller) -> str:
        """The live master for a superfan or the artist: the rungs their tier allows, signed."""
        with self.uow() as uow:
            session = self._settled(self._require(uow, session_id))
        rights = self._listener_rights(caller, session)
        if session.status is not LiveStatus.LIVE:
            raise Conflict(f"live session {session_id} is {session.status}, not live")
        first = f"{session.hls_prefix}/{rung_folder(LIVE_LADDER_KBPS[0])}/{VARIANT_PLAYLIST}"
        if not self.storage.exists(first):
            raise Conflict(f"live session {session_id} is starting; try again in a few seconds")
        return signed_master(
            LIVE_LADDER_KBPS,
            lambda kbps, name: live_media_path(session, kbps, name),
            rights=rights,
            subject=caller.id,
            expires=url_expiry(self.clock.now(), self.url_ttl),
            signer=self.signer,
        )

    def serve_media(
        self, artist_id: str, session_id: str, rung: str, filename: str, query: Mapping[str, str]
    ) -> MediaFile:
        """A signed live variant playlist (read fresh: it slides) or segment."""
        kbps = parse_rung(rung)
        if "/" in filename or filename.startswith("."):
            raise NotFound(f"no file {filename}")
        now = self.clock.now()
        path = f"/media/artists/{artist_id}/live/{session_id}/hls/{rung_folder(kbps)}/{filename}"
        listener = verified_listener(path, query, uow=self.uow(), signer=self.signer, now=now)
        with self.uow() as uow:
            session = self._settled(self._require(uow, session_id))
        if session.artist_id != artist_id or session.status is not LiveStatus.LIVE:
            raise NotFound(f"no live session {session_id} by artist {artist_id} on air")
        rights = self._listener_rights(listener, session)
        if kbps not in LIVE_LADDER_KBPS or not rights.may_stream(kbps):
            raise Forbidden(f"rung {kbps}k is above this listener's tier")
        body = self.storage.get_bytes(f"{session.hls_prefix}/{rung_folder(kbps)}/{filename}")
        if filename.endswith(".m3u8"):
            body = sign_playlist(
                body,
                lambda uri: live_media_path(session, kbps, uri),
                subject=listener.id,
                expires=url_expiry(now, self.url_ttl),
                signer=self.signer,
            )
        return MediaFile(body=body, content_type=content_type_for(filename))

    # --- the recording -----------------------------------------------------------------------

    def finish(self, session_id: str) -> Track | None:
        """Turn an ended session's recording into a track for superfans, linked from the session,
        through the normal ingest pipeline; then drop the live ladder. Runs as a job; again is a no-op."""
        with self.uow() as uow:
            session = self._require(uow, session_id)
        if not session.is_over or session.recording_track_id is not None:
            return None
        parts = sorted(
            k for k in self.storage.list_keys(session.recording_prefix + "/") if k.endswith(RECORDING_SUFFIX)
        )
        track = self._ingest_recording(session, parts) if parts else None
        if track is not None:
            self._change(session_id, lambda s: s.with_recording(track.id))
        self.storage.delete_prefix(session.hls_prefix + "/")
        self.storage.delete_prefix(session.recording_prefix + "/")
        return track

    def run_finish_job(self, payload: Mapping[str, Any]) -> None:
        """The ``FINISH_JOB`` handler: ``finish`` the session the job names."""
        self.finish(str(payload["session_id"]))

    def _ingest_recording(self, session: LiveSession, parts: Sequence[str]) -> Track | None:
        with tempfile.TemporaryDirectory(prefix="musicconnect-live-") as scratch:
            work = Path(scratch)
            local = []
            for index, key in enumerate(parts):
                local.append(work / f"part-{index:05d}{RECORDING_SUFFIX}")
                self.storage.download(key, local[-1])
            recording = work / "recording.m4a"
            try:
                self.packer.pack(local, recording)
                return self.tracks.ingest(
                    IngestTrack(
                        artist_id=session.artist_id,
                        title=session.title,
                        upload=recording,
                        audience=Tier.SUPERFAN,
                    ),
                    caller=Caller(session.artist_id, Role.ARTIST),
                )
            except MediaRejected as rejected:
                log.warning("live session %s: its recording was not kept: %s", session.id, rejected.detail)
                return None

    # --- helpers -----------------------------------------------------------------------------

    def _listener_rights(self, caller: Caller, session: LiveSession) -> Entitlements:
        rights = standing_entitlements(
            caller, session.artist_id, uow=self.uow(), cache=self.cache, clock=self.clock
        )
        if not (is_owner(caller, session.artist_id) or rights.has(Feature.LIVE_SESSIONS)):
            raise Forbidden("live sessions are for superfans")
        return rights

    def _settled(self, session: LiveSession) -> LiveSession:
        return session.settled(self.clock.now(), grace=self.grace, stall=self.stall)

    @staticmethod
    def _require(uow: UnitOfWork, session_id: str) -> LiveSession:
        session = uow.live_sessions.get(session_id)
        if session is None:
            raise NotFound(f"no live session {session_id}")
        return session

    def _keyed(self, key: str) -> LiveSession:
        """The session a stream key names, if the key is its current one; Forbidden otherwise."""
        try:
            session_id, _ = split_key(key)
        except InvalidInput:
            raise Forbidden("not a stream key") from None
        with self.uow() as uow:
            session = uow.live_sessions.get(session_id)
        if session is None:
            raise Forbidden("unknown stream key")
        return self._checked(session, key)

    @staticmethod
    def _checked(session: LiveSession, key: str) -> LiveSession:
        _, secret = split_key(key)
        if not session.key_matches(secret):
            raise Forbidden("unknown stream key")
        return session

    def _change(self, session_id: str, change: Callable[[LiveSession], LiveSession]) -> LiveSession:
        """Apply ``change`` to the stored session (settled first) in one unit of work; when the
        session ends there, tell listeners and queue its recording."""
        with self.uow() as uow:
            stored = self._require(uow, session_id)
            current = self._settled(stored)
            changed = change(current)
            if changed != stored:
                uow.live_sessions.save(changed)
                uow.commit()
        if changed.is_over and not stored.is_over:
            ended_at = changed.ended_at or self.clock.now()
            self._publish(LiveSessionEnded(changed.id, changed.artist_id, changed.status.value, ended_at))
            try:
                self.jobs.enqueue(finish_job(changed.id))
            except ServiceUnavailable as error:
                # The session's end is committed; its recording stays in storage for a later run.
                log.warning(
                    "live session %s ended but its recording could not be queued: %s",
                    changed.id,
                    error.detail,
                )
        return changed

    def _publish(self, event: LiveSessionScheduled | LiveSessionStarted | LiveSessionEnded) -> None:
        try:
            self.events.publish(event)
        except DomainError as error:  # a listener's trouble never undoes what happened
            log.warning("could not publish %r: %s", event, error.detail)
