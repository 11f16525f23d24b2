"""The whole platform in memory, for tests, examples and trying the library out.

``in_memory()`` builds a ``Platform`` whose every adapter lives in this process: repositories on
dicts, media in a dict, quotas and revocations in memory, emails kept in a list, the offline
payment ledger, a fake probe and transcoder that understand PCM WAV (and a fake recording packer
that writes it; no live encoding, as no RTMP server runs), images re-encoded by the real Pillow
adapter (pure and fast, it needs no fake), events kept in a list, and a
``FrozenClock`` that moves only when told to. It opens no connection and creates no data
folder; a transcode works in a scratch folder in the system's temporary directory and removes
it, because the ``Transcoder`` port speaks files.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import wave
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.filesystem import HmacUrlSigner
from musicconnect.adapters.inprocess import InlineJobQueue
from musicconnect.adapters.jwt import PyJwtTokenIssuer
from musicconnect.adapters.memory import (
    FrozenClock,
    InMemoryEmailSender,
    InMemoryEventPublisher,
    InMemoryLiveTranscoder,
    InMemoryMediaProbe,
    InMemoryMediaStorage,
    InMemoryOneTimeTokens,
    InMemoryQuotaCounter,
    InMemoryRecordingPacker,
    InMemoryStore,
    InMemoryTokenDenylist,
    InMemoryTranscoder,
    InMemoryUnitOfWork,
    SequentialIdGenerator,
)
from musicconnect.adapters.offline import OfflinePaymentGateway, offline_payments
from musicconnect.bootstrap import bootstrap
from musicconnect.domain.errors import MediaRejected
from musicconnect.platform import Platform
from musicconnect.ports.media import MediaStorage
from musicconnect.settings import Settings
from musicconnect.usecases.backstage_media import CLIP_JOB
from musicconnect.usecases.live import FINISH_JOB
from musicconnect.usecases.notifications import NOTIFY_JOB, SWEEP_RELEASES_JOB
from musicconnect.usecases.tracks import TRANSCODE_JOB

__all__ = ["FrozenClock", "InMemoryEmailSender", "in_memory", "write_wav"]

#: Where the frozen clock starts unless told otherwise.
DEFAULT_START = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def in_memory(
    *,
    clock: FrozenClock | None = None,
    storage: MediaStorage | None = None,
    email: InMemoryEmailSender | None = None,
) -> Platform:
    """A ``Platform`` on in-memory adapters and a frozen clock: no disk, no network.

    Pass ``clock`` to move time yourself (``clock.advance(days=31)``), ``storage`` to try your
    own ``MediaStorage``, ``email`` to read the messages sent (verification codes and the like).
    Transcodes run at once, inside ``platform.tracks.ingest``, and so do notification fan-outs
    (a fan's feed is filled as soon as something is announced). Passwords are hashed with cheap
    scrypt parameters: fast, and fit only for tests.
    """
    clock = clock or FrozenClock(DEFAULT_START)
    ids = SequentialIdGenerator()
    secret = secrets.token_urlsafe(32)
    settings = Settings(
        # Explicit values, not the environment's: a MUSICCONNECT_* variable must not reach out.
        # No adapter here uses a data folder; only the HTTP app's upload spool would create it.
        data_dir=Path(tempfile.gettempdir()) / f"musicconnect-in-memory-{secrets.token_hex(8)}",
        secret_key=secret,
        mongodb_uri=None,
        redis_url=None,
        s3_bucket=None,
        cloudfront_domain=None,
        stripe_api_key=None,
        smtp_host=None,
    )
    store = InMemoryStore()
    # The job handlers need the finished platform; they look it up when a job runs.
    built: list[Platform] = []

    def transcode(payload: Mapping[str, Any]) -> None:
        # Audio that does not decode leaves its track failed, as a real worker does.
        with contextlib.suppress(MediaRejected):
            built[0].tracks.transcode(str(payload["track_id"]))

    def notify(payload: Mapping[str, Any]) -> None:
        built[0].notifications.fan_out(payload)

    def finish_live(payload: Mapping[str, Any]) -> None:
        built[0].live.run_finish_job(payload)

    def sweep_releases(payload: Mapping[str, Any]) -> None:
        built[0].notifications.run_sweep_job(payload)

    def clip(payload: Mapping[str, Any]) -> None:
        built[0].backstage.run_clip_job(payload)

    services = bootstrap(
        settings,
        clock=clock,
        ids=ids,
        hasher=ScryptPasswordHasher(n=2, r=1, p=1),
        tokens=PyJwtTokenIssuer(secret, clock=clock),
        denylist=InMemoryTokenDenylist(clock),
        quota=InMemoryQuotaCounter(clock),
        one_time_tokens=InMemoryOneTimeTokens(clock),
        email=email or InMemoryEmailSender(),
        probe=InMemoryMediaProbe(),
        transcoder=InMemoryTranscoder(),
        live_transcoder=InMemoryLiveTranscoder(),
        recording_packer=InMemoryRecordingPacker(),
        events=InMemoryEventPublisher(),
        ingest_token=secrets.token_urlsafe(32),
        payments=offline_payments(OfflinePaymentGateway(ids, clock=clock)),
        storage=storage or InMemoryMediaStorage(),
        signer=HmacUrlSigner(secret.encode("utf-8")),
        uow=lambda: InMemoryUnitOfWork(store),
        jobs=InlineJobQueue(
            {
                TRANSCODE_JOB: transcode,
                FINISH_JOB: finish_live,
                NOTIFY_JOB: notify,
                SWEEP_RELEASES_JOB: sweep_releases,
                CLIP_JOB: clip,
            }
        ),
    )
    built.append(Platform.of(services))
    return built[0]


def write_wav(path: Path, *, seconds: float = 10.0, rate: int = 8000) -> Path:
    """Write ``seconds`` of silent 16-bit mono PCM WAV to ``path``: an upload the in-memory probe
    and transcoder accept (the real ffmpeg adapters accept it too)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * round(seconds * rate))
    return path
