"""The one place that reads Settings and builds the adapters. Nothing connects at import."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import attrs

from musicconnect.domain.errors import InvalidInput, MediaRejected
from musicconnect.domain.media import UploadPolicy
from musicconnect.ports.media import MediaProbe, MediaStorage, Transcoder, UrlSigner
from musicconnect.ports.payments import PaymentGateway
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import (
    Cache,
    Clock,
    IdGenerator,
    JobQueue,
    PasswordHasher,
    QuotaCounter,
    TokenDenylist,
    TokenIssuer,
)
from musicconnect.settings import Settings
from musicconnect.usecases.tracks import TRANSCODE_JOB, transcode_track

log = logging.getLogger(__name__)

#: Called with (track_id, fraction done) while a transcode runs.
TranscodeProgress = Callable[[str, float], None]


@attrs.define
class Services:
    """Every port, assembled. ``uow()`` makes a fresh unit of work (one per request or job)."""

    settings: Settings
    uow: Callable[[], UnitOfWork]
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
    gateway: PaymentGateway
    jobs: JobQueue
    policy: UploadPolicy
    closers: list[Callable[[], None]] = attrs.field(factory=list)

    @property
    def url_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.url_ttl_s)

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


def _refuse_unbuilt(settings: Settings) -> None:
    # Better to refuse than to quietly run on the embedded defaults when production was asked for.
    asked = {
        "MUSICCONNECT_MONGODB_URI": settings.mongodb_uri,
        "MUSICCONNECT_REDIS_URL": settings.redis_url,
        "MUSICCONNECT_S3_BUCKET": settings.s3_bucket,
        "MUSICCONNECT_STRIPE_API_KEY": settings.stripe_api_key,
    }
    unbuilt = [name for name, value in asked.items() if value]
    if unbuilt:
        raise InvalidInput(f"{', '.join(unbuilt)} set, but this build has only the embedded adapters")


def bootstrap(
    settings: Settings,
    *,
    on_transcode_progress: TranscodeProgress | None = None,
    **overrides: Any,
) -> Services:
    """Build every adapter from ``settings``; keyword ``overrides`` replace any one by name."""
    from musicconnect.adapters.crypto import ScryptPasswordHasher
    from musicconnect.adapters.ffmpeg import FfmpegMediaProbe, FfmpegTranscoder
    from musicconnect.adapters.filesystem import FilesystemMediaStorage, HmacUrlSigner
    from musicconnect.adapters.inprocess import ThreadJobQueue
    from musicconnect.adapters.jwt import PyJwtTokenIssuer
    from musicconnect.adapters.memory import (
        InMemoryCache,
        SystemClock,
        UuidIdGenerator,
    )
    from musicconnect.adapters.offline import OfflinePaymentGateway
    from musicconnect.adapters.sqlite import (
        SqliteDatabase,
        SqliteQuotaCounter,
        SqliteTokenDenylist,
        SqliteUnitOfWork,
    )

    _refuse_unbuilt(settings)
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = _secret_key(settings)
    clock: Clock = overrides.pop("clock", None) or SystemClock()
    ids: IdGenerator = overrides.pop("ids", None) or UuidIdGenerator()

    parts: dict[str, Any] = {
        "clock": clock,
        "ids": ids,
        "hasher": ScryptPasswordHasher(),
        "tokens": PyJwtTokenIssuer(secret, clock=clock),
        # On files, not in memory: `serve --workers N` runs N processes that must share them.
        "denylist": SqliteTokenDenylist(data_dir / "counters.sqlite3", clock),
        "quota": SqliteQuotaCounter(data_dir / "counters.sqlite3", clock),
        "cache": InMemoryCache(clock=clock),
        "storage": FilesystemMediaStorage(data_dir / "media"),
        "signer": HmacUrlSigner(secret.encode("utf-8"), base_url=settings.public_base_url),
        "probe": FfmpegMediaProbe(),
        "transcoder": FfmpegTranscoder(),
        "gateway": OfflinePaymentGateway(ids),
        "policy": UploadPolicy(max_bytes=settings.max_upload_bytes, max_duration_s=settings.max_duration_s),
    }
    if "uow" not in overrides:
        database = SqliteDatabase(data_dir / "musicconnect.sqlite3")
        parts["uow"] = lambda: SqliteUnitOfWork(database)
    parts.update(overrides)

    # The job handlers need the finished Services; they look it up when a job runs.
    built: list[Services] = []
    if "jobs" not in parts:
        parts["jobs"] = ThreadJobQueue(
            _job_handlers(lambda: built[0], on_transcode_progress), workers=settings.transcode_workers,
        )
    services = Services(settings=settings, **parts)
    built.append(services)
    if isinstance(services.jobs, ThreadJobQueue):
        services.closers.append(services.jobs.close)
    return services


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

    return {TRANSCODE_JOB: transcode}


def prepare(settings: Settings) -> None:
    """Create or upgrade what the adapters keep on disk, once, before worker processes start.

    Several processes creating a brand-new SQLite file at the same moment can trip over each
    other switching it to WAL; doing it first in the parent avoids that race.
    """
    services = bootstrap(settings)
    try:
        with services.uow():
            pass
        services.quota.used("startup")
        services.denylist.is_revoked("startup")
    finally:
        services.close()
