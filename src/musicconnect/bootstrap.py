"""The one place that reads Settings and builds the adapters. Nothing connects at import."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from musicconnect.domain.errors import InvalidInput, MediaRejected
from musicconnect.domain.media import UploadPolicy
from musicconnect.domain.throttling import ThrottlePolicy
from musicconnect.ports.media import (
    ImageProcessor,
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
    JobHandler,
    JobQueue,
    OneTimeTokens,
    PasswordHasher,
    QuotaCounter,
    TokenDenylist,
    TokenIssuer,
)
from musicconnect.settings import Settings
from musicconnect.usecases.account_mail import AccountMail
from musicconnect.usecases.backstage_media import CLIP_JOB
from musicconnect.usecases.caching import InvalidatingUnitOfWork, ReadyTracks
from musicconnect.usecases.live import FINISH_JOB
from musicconnect.usecases.notifications import NOTIFY_JOB, SWEEP_RELEASES_JOB, Notifications
from musicconnect.usecases.tracks import TRANSCODE_JOB, transcode_track

log = logging.getLogger(__name__)

#: The counters file: quotas, revoked tokens and one-time tokens without Redis.
_COUNTERS: Final = "counters.sqlite3"

#: Called with (track_id, fraction done) while a transcode runs.
TranscodeProgress = Callable[[str, float], None]

#: Every job the queues run: a queue refuses (Redis: at enqueue) any other name.
_JOBS: Final = frozenset({TRANSCODE_JOB, FINISH_JOB, NOTIFY_JOB, SWEEP_RELEASES_JOB, CLIP_JOB})


@attrs.frozen
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
    #: Checks and re-encodes uploaded images (backstage posts, profile pictures).
    images: ImageProcessor
    #: Encodes a live push into a live HLS ladder (run by ``musicconnect live relay``).
    live_transcoder: LiveTranscoder
    #: Joins a live session's recorded parts into the file its recording track is ingested from.
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
    #: The stream path's token and standing reads, awaited together (one Redis round trip).
    access_reads: AccessReads
    #: How async callers run database reads: in place on local files, else in a worker thread.
    blocking: BlockingWork
    #: Published tracks remembered for the streaming path (each checked against its change mark).
    ready_tracks: ReadyTracks = attrs.field(factory=ReadyTracks)
    #: What the queue this process runs jobs on (worker threads, or ``musicconnect worker``) calls,
    #: by job name: the transcode from ``bootstrap``; each use-case group with jobs of its own
    #: adds its handler when ``Platform.of`` binds it (ending a live session).
    job_handlers: dict[str, JobHandler] = attrs.field(factory=dict)
    closers: list[Callable[[], None]] = attrs.field(factory=list)
    #: Run once before serving: index creation and the like. Nothing connects before it.
    startup: list[Callable[[], None]] = attrs.field(factory=list)

    @property
    def mail(self) -> AccountMail:
        """The account emails (verification, reset), over this email sender."""
        return AccountMail(
            self.email, self.one_time_tokens, self.clock, base_url=self.settings.public_base_url
        )

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()


def secret_key(settings: Settings) -> str:
    """The configured key, or one generated once and kept in the data folder."""
    if settings.secret_key:
        return settings.secret_key
    path = _data_dir(settings) / "secret.key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _ingest_token(secret: str) -> str:
    """The live-ingest callbacks' token: derived from the secret key, so every process of one
    deployment (the API, ``musicconnect live``) agrees on it without one more setting."""
    return hmac.new(secret.encode("utf-8"), b"live-ingest", hashlib.sha256).hexdigest()


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

    sqlite = SqliteDatabase(_data_dir(settings) / "musicconnect.sqlite3")
    # Its state is per thread, so one reader serves every request rather than one built per request.
    reader = SqliteUnitOfWork(sqlite, read_only=True)
    return (lambda: SqliteUnitOfWork(sqlite)), (lambda: reader)


def _invalidating(
    uow: Callable[[], UnitOfWork], cache: Cache, ready_tracks: ReadyTracks
) -> Callable[[], UnitOfWork]:
    """Units of work that, once committed, drop the cached reads their writes made stale."""
    return lambda: InvalidatingUnitOfWork(uow(), cache, ready_tracks)


#: How long a process trusts a track it remembers: with a shared cache the track's change mark
#: tells it of edits at once, and this only bounds a mark that could not be written; with no
#: shared cache (the embedded default, ``serve --workers N`` on one machine) it is how soon the
#: other processes hear of an edit, at the cost of one local read per track per this time.
REMEMBER_WITH_SHARED_CACHE_S: Final = 600.0
REMEMBER_WITHOUT_SHARED_CACHE_S: Final = 2.0


def _ready_tracks(cache: Cache) -> ReadyTracks:
    from musicconnect.adapters.memory import NoCache

    shared = not isinstance(cache, NoCache)
    return ReadyTracks(lifetime_s=REMEMBER_WITH_SHARED_CACHE_S if shared else REMEMBER_WITHOUT_SHARED_CACHE_S)


def _media(settings: Settings, secret: str) -> tuple[MediaStorage, UrlSigner]:
    """S3 (+ CloudFront signing) when configured, else the local folder with the API's HMAC URLs."""
    from musicconnect.adapters.filesystem import FilesystemMediaStorage, HmacUrlSigner

    storage: MediaStorage
    if settings.s3_bucket:
        from musicconnect.adapters.s3 import S3MediaStorage

        # Keys live under "media/", so a CloudFront path equals the API's delivery path.
        storage = S3MediaStorage(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, prefix="media")
    else:
        storage = FilesystemMediaStorage(_data_dir(settings) / "media")
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
    return OutboxEmailSender(_data_dir(settings) / "outbox", sender=settings.email_from)


@attrs.frozen
class _RedisParts:
    """Quotas, revocations, caches and the transcode queue on Redis, shared by every process."""

    quota: QuotaCounter
    denylist: TokenDenylist
    one_time_tokens: OneTimeTokens
    cache: Cache
    jobs: JobQueue
    #: Reads the denylist's and the cache's keys above, async.
    access_reads: AccessReads


def _redis_parts(url: str) -> _RedisParts:
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

    connection = RedisConnection(url)
    denylist = RedisTokenDenylist(connection)
    cache = RedisCache(connection)
    return _RedisParts(
        quota=RedisQuotaCounter(connection),
        denylist=denylist,
        one_time_tokens=RedisOneTimeTokens(connection),
        cache=cache,
        access_reads=RedisAccessReads(AsyncRedisConnection(connection), denylist=denylist, cache=cache),
        # The API only enqueues; `musicconnect worker` processes run the transcodes.
        jobs=SaqJobQueue(url, known_jobs=_JOBS),
    )


def _data_dir(settings: Settings) -> Path:
    """The data folder, created (private to its owner) the first time an adapter needs it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return settings.data_dir


def _access_reads(redis: _RedisParts | None, denylist: TokenDenylist, cache: Cache) -> AccessReads:
    """Redis's async reads when the denylist and the cache are Redis's, else both asked in place."""
    from musicconnect.adapters.inprocess import LocalAccessReads

    if redis and denylist is redis.denylist and cache is redis.cache:
        return redis.access_reads
    return LocalAccessReads(denylist, cache)


def bootstrap(
    settings: Settings,
    *,
    on_transcode_progress: TranscodeProgress | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    hasher: PasswordHasher | None = None,
    tokens: TokenIssuer | None = None,
    denylist: TokenDenylist | None = None,
    quota: QuotaCounter | None = None,
    one_time_tokens: OneTimeTokens | None = None,
    email: EmailSender | None = None,
    cache: Cache | None = None,
    probe: MediaProbe | None = None,
    transcoder: Transcoder | None = None,
    images: ImageProcessor | None = None,
    live_transcoder: LiveTranscoder | None = None,
    recording_packer: RecordingPacker | None = None,
    events: EventPublisher | None = None,
    ingest_token: str | None = None,
    payments: Payments | None = None,
    storage: MediaStorage | None = None,
    signer: UrlSigner | None = None,
    uow: Callable[[], UnitOfWork] | None = None,
    reader: Callable[[], UnitOfWork] | None = None,
    jobs: JobQueue | None = None,
) -> Services:
    """Build every adapter from ``settings``. Any adapter passed explicitly is used instead of
    the configured one, and the configured one is then never built: nothing is written to the
    data folder for a port that was given (``musicconnect.testing.in_memory`` gives them all).

    ``uow`` without ``reader`` reads through ``uow`` too. ``jobs`` defaults to Redis's queue
    when configured, else worker threads in this process that run the transcodes and the other
    jobs of ``Services.job_handlers``.
    """
    from musicconnect.adapters.crypto import Argon2PasswordHasher
    from musicconnect.adapters.ffmpeg import (
        FfmpegLiveTranscoder,
        FfmpegMediaProbe,
        FfmpegRecordingPacker,
        FfmpegTranscoder,
    )
    from musicconnect.adapters.inprocess import ThreadJobQueue, in_place, in_worker_thread
    from musicconnect.adapters.jwt import PyJwtTokenIssuer
    from musicconnect.adapters.memory import (
        InMemoryEventPublisher,
        MemoizedTokenIssuer,
        NoCache,
        SystemClock,
        UuidIdGenerator,
    )
    from musicconnect.adapters.pillow import PillowImageProcessor
    from musicconnect.adapters.sqlite import SqliteOneTimeTokens, SqliteQuotaCounter, SqliteTokenDenylist

    clock = clock or SystemClock()
    ids = ids or UuidIdGenerator()
    if tokens is None or storage is None or signer is None or ingest_token is None:
        secret = secret_key(settings)
    redis = _redis_parts(settings.redis_url) if settings.redis_url else None
    if tokens is None:
        tokens = MemoizedTokenIssuer(PyJwtTokenIssuer(secret, clock=clock), clock=clock)
    ingest_token = ingest_token or _ingest_token(secret)
    # Counters live on files, not in memory, without Redis: `serve --workers N` runs N processes
    # that must share them.
    if denylist is None:
        denylist = redis.denylist if redis else SqliteTokenDenylist(_data_dir(settings) / _COUNTERS, clock)
    if quota is None:
        quota = redis.quota if redis else SqliteQuotaCounter(_data_dir(settings) / _COUNTERS, clock)
    if one_time_tokens is None:
        one_time_tokens = (
            redis.one_time_tokens if redis else SqliteOneTimeTokens(_data_dir(settings) / _COUNTERS, clock)
        )
    if storage is None or signer is None:
        configured_storage, configured_signer = _media(settings, secret)
        storage = storage or configured_storage
        signer = signer or configured_signer
    startup: list[Callable[[], None]] = []
    own_uow = uow is None
    if uow is None:
        uow, reader = _unit_of_work(settings, startup)
    cache = cache or (redis.cache if redis else NoCache())
    ready_tracks = _ready_tracks(cache)
    built: list[Services] = []  # the job handlers need the finished Services; they look it up then
    own_jobs = jobs is None
    if jobs is None:
        jobs = (
            redis.jobs
            if redis
            else ThreadJobQueue(_dispatch(lambda: built[0]), workers=settings.transcode_workers)
        )
    # The embedded defaults answer reads from local files; anything given may not.
    local_reads = own_uow and not (settings.mongodb_uri or settings.redis_url)
    services = Services(
        settings=settings,
        uow=_invalidating(uow, cache, ready_tracks),
        ready_tracks=ready_tracks,
        reader=reader or uow,
        clock=clock,
        ids=ids,
        hasher=hasher or Argon2PasswordHasher(),
        tokens=tokens,
        denylist=denylist,
        quota=quota,
        cache=cache,
        storage=storage,
        signer=signer,
        probe=probe or FfmpegMediaProbe(),
        transcoder=transcoder or FfmpegTranscoder(),
        images=images or PillowImageProcessor(),
        live_transcoder=live_transcoder or FfmpegLiveTranscoder(),
        recording_packer=recording_packer or FfmpegRecordingPacker(),
        events=events or InMemoryEventPublisher(),
        ingest_token=ingest_token,
        payments=payments or _payments(settings, ids, clock),
        jobs=jobs,
        policy=UploadPolicy(max_bytes=settings.max_upload_bytes, max_duration_s=settings.max_duration_s),
        email=email or _email(settings),
        one_time_tokens=one_time_tokens,
        throttle=ThrottlePolicy().scaled(settings.throttle_scale),
        startup=startup,
        access_reads=_access_reads(redis, denylist, cache),
        blocking=in_place if local_reads else in_worker_thread,
    )
    services.job_handlers[TRANSCODE_JOB] = _transcode(services, on_transcode_progress)
    built.append(services)
    close_jobs = getattr(services.jobs, "close", None)
    if close_jobs is not None and own_jobs:
        services.closers.append(close_jobs)
    return services


def notifications_of(services: Services) -> Notifications:
    """The notification use cases on ``services``: ``Platform.of`` and the worker's jobs both
    bind them here, so announcing and fanning out run on the same ports."""
    return Notifications(services.uow, services.jobs, services.email, services.clock)


def job_handlers(services: Services) -> Mapping[str, JobHandler]:
    """The handlers a worker process runs, by job name: those of ``Services.job_handlers``, so
    ``services`` should be bound into a ``Platform`` first (its groups add their jobs' handlers)."""
    return dict(services.job_handlers)


def _dispatch(get_services: Callable[[], Services]) -> Mapping[str, JobHandler]:
    """A handler per known job that runs what ``Services.job_handlers`` holds for it when the job
    runs (a ``Platform`` bound after the queue was built adds its groups' handlers there)."""

    def handler(name: str) -> JobHandler:
        def run(payload: Mapping[str, Any]) -> None:
            get_services().job_handlers[name](payload)

        return run

    return {name: handler(name) for name in _JOBS}


def _transcode(services: Services, on_progress: TranscodeProgress | None) -> JobHandler:
    def transcode(payload: Mapping[str, Any]) -> None:
        track_id = str(payload["track_id"])
        progress = (lambda fraction: on_progress(track_id, fraction)) if on_progress else None
        try:
            published = transcode_track(
                track_id,
                uow=services.uow(),
                storage=services.storage,
                transcoder=services.transcoder,
                progress=progress,
            )
        except MediaRejected as rejected:
            # The track is marked failed; retrying a file ffmpeg cannot decode would not help.
            log.warning("transcode of %s failed: %s", track_id, rejected.detail)
            return
        if published is not None:
            notifications_of(services).announce_release(track_id)

    return transcode


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
