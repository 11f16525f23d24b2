"""The one place that reads Settings and builds the adapters. Nothing connects at import."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import attrs

from musicconnect.domain.errors import InvalidInput, MediaRejected
from musicconnect.domain.media import UploadPolicy
from musicconnect.domain.throttling import ThrottlePolicy
from musicconnect.ports.media import (
    LiveTranscoder,
    MediaProbe,
    MediaStorage,
    RecordingPacker,
    Transcoder,
    UrlSigner,
)
from musicconnect.ports.payments import Payments, ReturnUrls
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import (
    AccessReads,
    BlockingWork,
    Cache,
    Clock,
    EmailSender,
    EventPublisher,
    IdGenerator,
    JobQueue,
    OneTimeTokens,
    PasswordHasher,
    QuotaCounter,
    TokenDenylist,
    TokenIssuer,
)
from musicconnect.settings import Settings
from musicconnect.usecases.account_mail import AccountMail
from musicconnect.usecases.caching import InvalidatingUnitOfWork, ReadyTracks
from musicconnect.usecases.live import FINISH_JOB, LiveSessions
from musicconnect.usecases.streaming import StreamOpener
from musicconnect.usecases.subscriptions import Subscriptions
from musicconnect.usecases.tracks import TRANSCODE_JOB, transcode_track

log = logging.getLogger(__name__)

#: Called with (track_id, fraction done) while a transcode runs.
TranscodeProgress = Callable[[str, float], None]


@attrs.define
class Services:
    """Every port, assembled. ``uow()`` makes a fresh unit of work (one per request or job)."""

    settings: Settings
    uow: Callable[[], UnitOfWork]
    #: Units of work for hot read-only paths (opening a stream): they never take a write lock.
    reader: Callable[[], UnitOfWork]
    clock: Clock
    ids: IdGenerator
    hasher: PasswordHasher
    tokens: TokenIssuer
    denylist: TokenDenylist
    quota: QuotaCounter
    cache: Cache
    storage: MediaStorage
    signer: UrlSigner
    probe: MediaProbe
    transcoder: Transcoder
    live_transcoder: LiveTranscoder
    recording_packer: RecordingPacker
    #: Where what happened is published; notifications (issue 13) listen here.
    events: EventPublisher
    #: Proves a live-ingest callback comes from our RTMP server (its config carries it).
    ingest_token: str
    #: The payment processor's roles: offline, or Stripe.
    payments: Payments
    jobs: JobQueue
    policy: UploadPolicy
    email: EmailSender
    one_time_tokens: OneTimeTokens
    throttle: ThrottlePolicy
    #: Whether the hot read path (tokens, tracks, standings) stays on this machine, on files that
    #: answer in microseconds and never wait for a lock: the embedded defaults.
    local_reads: bool = False
    #: The token and standing reads of the stream path, awaited together (one Redis round trip).
    access_reads: AccessReads | None = None
    #: How async handlers run database reads: in place on local files, else in a worker thread.
    blocking: BlockingWork | None = None
    #: Published tracks remembered for the streaming path (exact: a ready track never changes).
    ready_tracks: ReadyTracks = attrs.field(factory=ReadyTracks)
    _stream_opener: StreamOpener | None = attrs.field(default=None, init=False, repr=False)
    closers: list[Callable[[], None]] = attrs.field(factory=list)
    #: Run once before serving: index creation and the like. Nothing connects before it.
    startup: list[Callable[[], None]] = attrs.field(factory=list)

    @property
    def subscriptions(self) -> Subscriptions:
        """The subscription use cases, bound to these ports."""
        return Subscriptions(self.uow, self.payments.billing, self.ids, self.clock, self.payment_lease)

    @property
    def live(self) -> LiveSessions:
        """The live-session use cases, bound to these ports."""
        return LiveSessions(
            self.uow,
            self.storage,
            self.signer,
            self.cache,
            self.events,
            self.jobs,
            self.ids,
            self.clock,
            self.probe,
            self.recording_packer,
            self.policy,
            ingest_url=self.settings.live_ingest_url,
            grace=timedelta(seconds=self.settings.live_grace_s),
            stall=timedelta(seconds=self.settings.live_stall_s),
            url_ttl=self.url_ttl,
        )

    @property
    def payment_lease(self) -> timedelta:
        """How long a reserved payment belongs to its request (see ``PaymentIntent``)."""
        return timedelta(seconds=self.settings.payment_lease_s)

    @property
    def mail(self) -> AccountMail:
        return AccountMail(
            self.email, self.one_time_tokens, self.clock, base_url=self.settings.public_base_url
        )

    @property
    def url_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.url_ttl_s)

    def stream_opener(self) -> StreamOpener:
        """Opening streams, bound to these ports once, on first use."""
        if self._stream_opener is None:
            self._stream_opener = self._bind_stream_opener()
        return self._stream_opener

    def _bind_stream_opener(self) -> StreamOpener:
        from musicconnect.adapters.inprocess import LocalAccessReads, in_place, in_worker_thread

        return StreamOpener(
            tokens=self.tokens,
            reads=self.access_reads or LocalAccessReads(self.denylist, self.cache),
            blocking=self.blocking or (in_place if self.local_reads else in_worker_thread),
            reader=self.reader,
            tracks=self.ready_tracks,
            cache=self.cache,
            signer=self.signer,
            clock=self.clock,
            ttl=self.url_ttl,
        )

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()


def _secret_key(settings: Settings) -> str:
    """The configured key, or one generated once and kept in the data folder."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


_UowFactory = Callable[[], UnitOfWork]


def _unit_of_work(
    settings: Settings, services_hooks: list[Callable[[], None]]
) -> tuple[_UowFactory, _UowFactory]:
    """MongoDB when a URI is set (Atlas in production), else the SQLite file in the data folder.

    Returns the factories of units of work that may write and of those that only read.
    """
    if settings.mongodb_uri:
        from musicconnect.adapters.mongo import MongoDatabase, MongoUnitOfWork

        mongo = MongoDatabase(settings.mongodb_uri, database=settings.mongodb_database)
        services_hooks.append(mongo.ready)  # indexes, created idempotently at start-up
        # Mongo units of work buffer writes until commit: reading takes no lock either way.
        return (lambda: MongoUnitOfWork(mongo)), (lambda: MongoUnitOfWork(mongo))
    from musicconnect.adapters.sqlite import SqliteDatabase, SqliteUnitOfWork

    sqlite = SqliteDatabase(settings.data_dir / "musicconnect.sqlite3")
    # Its state is per thread, so one reader serves every request rather than one built per request.
    reader = SqliteUnitOfWork(sqlite, read_only=True)
    return (lambda: SqliteUnitOfWork(sqlite)), (lambda: reader)


def _invalidating(uow: Callable[[], UnitOfWork], cache: Cache) -> Callable[[], UnitOfWork]:
    """Units of work that, once committed, drop the cached reads their writes made stale."""
    return lambda: InvalidatingUnitOfWork(uow(), cache)


def _media(settings: Settings, secret: str) -> tuple[MediaStorage, UrlSigner]:
    """S3 (+ CloudFront signing) when configured, else the local folder with the API's HMAC URLs."""
    from musicconnect.adapters.filesystem import FilesystemMediaStorage, HmacUrlSigner

    storage: MediaStorage
    if settings.s3_bucket:
        from musicconnect.adapters.s3 import S3MediaStorage

        # Keys live under "media/", so a CloudFront path equals the API's delivery path.
        storage = S3MediaStorage(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, prefix="media")
    else:
        storage = FilesystemMediaStorage(settings.data_dir / "media")
    signer: UrlSigner = HmacUrlSigner(secret.encode("utf-8"), base_url=settings.public_base_url)
    if settings.cloudfront_domain:
        from musicconnect.adapters.s3 import CloudFrontUrlSigner, PlaylistsHereSegmentsOnCdn

        if not (settings.cloudfront_key_id and settings.cloudfront_private_key_file):
            raise InvalidInput(
                "MUSICCONNECT_CLOUDFRONT_DOMAIN needs MUSICCONNECT_CLOUDFRONT_KEY_ID and "
                "MUSICCONNECT_CLOUDFRONT_PRIVATE_KEY_FILE",
            )
        cdn = CloudFrontUrlSigner.from_private_key_file(
            settings.cloudfront_domain,
            settings.cloudfront_key_id,
            settings.cloudfront_private_key_file,
        )
        # Variant playlists from the API (which signs each segment URI in them), segments from the CDN.
        signer = PlaylistsHereSegmentsOnCdn(playlists=signer, segments=cdn)
    from musicconnect.adapters.memory import MemoizedUrlSigner

    return storage, MemoizedUrlSigner(signer)


def _payments(settings: Settings, ids: IdGenerator, clock: Clock) -> Payments:
    """Stripe (Billing, Checkout, Connect with the 10 % fee) when a key is set, else offline."""
    if settings.stripe_api_key:
        if not settings.stripe_webhook_secret:
            raise InvalidInput("MUSICCONNECT_STRIPE_WEBHOOK_SECRET is needed with a Stripe key")
        if not settings.public_base_url:
            raise InvalidInput(
                "MUSICCONNECT_PUBLIC_BASE_URL is needed with a Stripe key: Checkout returns there"
            )
        from musicconnect.adapters.stripe import StripePaymentGateway, stripe_payments

        base = settings.public_base_url.rstrip("/")
        return stripe_payments(
            StripePaymentGateway(
                settings.stripe_api_key,
                api_base=settings.stripe_api_base,
                webhook_secret=settings.stripe_webhook_secret,
            ),
            return_urls=ReturnUrls(f"{base}/checkout/success", f"{base}/checkout/canceled"),
        )
    from musicconnect.adapters.offline import OfflinePaymentGateway, offline_payments

    return offline_payments(OfflinePaymentGateway(ids, clock=clock))


def _email(settings: Settings) -> EmailSender:
    """An SMTP relay when a host is set, else the outbox folder (``musicconnect outbox``)."""
    from musicconnect.adapters.email import OutboxEmailSender, SmtpEmailSender, SmtpSecurity

    if settings.smtp_host:
        return SmtpEmailSender(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.email_from,
            security=SmtpSecurity(settings.smtp_security),
            username=settings.smtp_username,
            password=settings.smtp_password,
        )
    return OutboxEmailSender(settings.data_dir / "outbox", sender=settings.email_from)


def _redis_parts(settings: Settings) -> dict[str, Any]:
    """Quotas, revocations, caches and the transcode queue on Redis, shared by every process."""
    from musicconnect.adapters.redis import (
        AsyncRedisConnection,
        RedisAccessReads,
        RedisCache,
        RedisConnection,
        RedisOneTimeTokens,
        RedisQuotaCounter,
        RedisTokenDenylist,
        SaqJobQueue,
    )

    url = settings.redis_url or ""
    connection = RedisConnection(url)
    denylist = RedisTokenDenylist(connection)
    cache = RedisCache(connection)
    return {
        "quota": RedisQuotaCounter(connection),
        "denylist": denylist,
        "one_time_tokens": RedisOneTimeTokens(connection),
        "cache": cache,
        "access_reads": RedisAccessReads(AsyncRedisConnection(connection), denylist=denylist, cache=cache),
        # The API only enqueues; `musicconnect worker` processes run the transcodes.
        "jobs": SaqJobQueue(url, known_jobs={TRANSCODE_JOB, FINISH_JOB}),
    }


def bootstrap(
    settings: Settings,
    *,
    on_transcode_progress: TranscodeProgress | None = None,
    **overrides: Any,
) -> Services:
    """Build every adapter from ``settings``; keyword ``overrides`` replace any one by name."""
    from musicconnect.adapters.crypto import Argon2PasswordHasher
    from musicconnect.adapters.ffmpeg import (
        FfmpegLiveTranscoder,
        FfmpegMediaProbe,
        FfmpegRecordingPacker,
        FfmpegTranscoder,
    )
    from musicconnect.adapters.inprocess import ThreadJobQueue
    from musicconnect.adapters.jwt import PyJwtTokenIssuer
    from musicconnect.adapters.memory import (
        InMemoryEventPublisher,
        MemoizedTokenIssuer,
        NoCache,
        SystemClock,
        UuidIdGenerator,
    )
    from musicconnect.adapters.sqlite import SqliteOneTimeTokens, SqliteQuotaCounter, SqliteTokenDenylist

    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = _secret_key(settings)
    clock: Clock = overrides.pop("clock", None) or SystemClock()
    ids: IdGenerator = overrides.pop("ids", None) or UuidIdGenerator()

    parts: dict[str, Any] = {
        "clock": clock,
        "ids": ids,
        "hasher": Argon2PasswordHasher(),
        "tokens": MemoizedTokenIssuer(PyJwtTokenIssuer(secret, clock=clock), clock=clock),
        # On files, not in memory: `serve --workers N` runs N processes that must share them.
        "denylist": SqliteTokenDenylist(data_dir / "counters.sqlite3", clock),
        "quota": SqliteQuotaCounter(data_dir / "counters.sqlite3", clock),
        "one_time_tokens": SqliteOneTimeTokens(data_dir / "counters.sqlite3", clock),
        "email": _email(settings),
        "throttle": ThrottlePolicy().scaled(settings.throttle_scale),
        "cache": NoCache(),
        "probe": FfmpegMediaProbe(),
        "transcoder": FfmpegTranscoder(),
        "live_transcoder": FfmpegLiveTranscoder(),
        "recording_packer": FfmpegRecordingPacker(),
        "events": InMemoryEventPublisher(),
        "ingest_token": hmac.new(secret.encode("utf-8"), b"live-ingest", hashlib.sha256).hexdigest(),
        "payments": _payments(settings, ids, clock),
        "policy": UploadPolicy(max_bytes=settings.max_upload_bytes, max_duration_s=settings.max_duration_s),
    }
    if settings.redis_url:
        parts.update(_redis_parts(settings))
    if "storage" not in overrides or "signer" not in overrides:
        parts["storage"], parts["signer"] = _media(settings, secret)
    startup: list[Callable[[], None]] = []
    if "uow" not in overrides:
        parts["uow"], parts["reader"] = _unit_of_work(settings, startup)
    parts.update(overrides)
    parts.setdefault("reader", parts["uow"])
    parts["uow"] = _invalidating(parts["uow"], parts["cache"])

    # The job handlers need the finished Services; they look it up when a job runs.
    built: list[Services] = []
    if "jobs" not in parts:
        parts["jobs"] = ThreadJobQueue(
            _job_handlers(lambda: built[0], on_transcode_progress),
            workers=settings.transcode_workers,
        )
    local = not (settings.mongodb_uri or settings.redis_url) and "uow" not in overrides
    services = Services(settings=settings, startup=startup, local_reads=local, **parts)
    built.append(services)
    close_jobs = getattr(services.jobs, "close", None)
    if close_jobs is not None and "jobs" not in overrides:
        services.closers.append(close_jobs)
    return services


def job_handlers(services: Services) -> Mapping[str, Callable[[Mapping[str, Any]], None]]:
    """The handlers a worker process runs, by job name."""
    return _job_handlers(lambda: services, None)


def _job_handlers(
    get_services: Callable[[], Services],
    on_progress: TranscodeProgress | None,
) -> Mapping[str, Callable[[Mapping[str, Any]], None]]:
    def transcode(payload: Mapping[str, Any]) -> None:
        services = get_services()
        track_id = str(payload["track_id"])
        progress = (lambda fraction: on_progress(track_id, fraction)) if on_progress else None
        try:
            transcode_track(
                track_id,
                uow=services.uow(),
                storage=services.storage,
                transcoder=services.transcoder,
                progress=progress,
            )
        except MediaRejected as rejected:
            # The track is marked failed; retrying a file ffmpeg cannot decode would not help.
            log.warning("transcode of %s failed: %s", track_id, rejected.detail)

    def finish_live(payload: Mapping[str, Any]) -> None:
        get_services().live.finish(str(payload["session_id"]))

    return {TRANSCODE_JOB: transcode, FINISH_JOB: finish_live}


def prepare(settings: Settings) -> None:
    """Create or upgrade what the adapters keep on disk, once, before worker processes start.

    Several processes creating a brand-new SQLite file at the same moment can trip over each
    other switching it to WAL; doing it first in the parent avoids that race.
    """
    services = bootstrap(settings)
    try:
        for hook in services.startup:
            hook()
        with services.uow():
            pass
        services.quota.used("startup")
        services.denylist.is_revoked("startup")
    finally:
        services.close()
