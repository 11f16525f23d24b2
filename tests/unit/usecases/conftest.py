"""Every port of the use cases built from the in-memory adapters, plus small fakes for ffprobe/ffmpeg.

The probe and transcoder are fakes (the real ffmpeg adapters are tested against real ffmpeg
elsewhere); everything else is the real in-process adapter the API and CLI use.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import attrs
import pytest

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.filesystem import HmacUrlSigner
from musicconnect.adapters.inprocess import InlineJobQueue
from musicconnect.adapters.jwt import PyJwtTokenIssuer
from musicconnect.adapters.memory import (
    FrozenClock,
    InMemoryCache,
    InMemoryEmailSender,
    InMemoryMediaStorage,
    InMemoryOneTimeTokens,
    InMemoryQuotaCounter,
    InMemoryStore,
    InMemoryTokenDenylist,
    InMemoryUnitOfWork,
    SequentialIdGenerator,
)
from musicconnect.adapters.offline import ChargingSubscriptionBilling, OfflinePaymentGateway
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import MediaRejected, MediaTooLarge, PaymentFailed
from musicconnect.domain.media import AudioInfo, Ladder, RungResult, UploadPolicy, rung_folder
from musicconnect.domain.money import Money
from musicconnect.domain.payments import ChargeResult, PayoutResult
from musicconnect.domain.subscriptions import Subscription
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import Track
from musicconnect.ports.media import ProgressCallback
from musicconnect.ports.payments import Charges
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.usecases import accounts, profile
from musicconnect.usecases import tracks as track_cases
from musicconnect.usecases.account_mail import AccountMail
from musicconnect.usecases.caching import InvalidatingUnitOfWork
from musicconnect.usecases.subscriptions import Subscriptions
from tests.support.accounts import link_token

T0: Final = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
PASSWORD: Final = "correct horse battery"
ADMIN_EMAIL: Final = "admin@example.com"
JWT_SECRET: Final = "jwt-secret-for-unit-tests-0123456789abcdef"
URL_SECRET: Final = b"url-signing-secret-for-unit-tests-0123456789"
POLICY: Final = UploadPolicy(max_bytes=64 * 1024)
LADDER_DURATION_S: Final = 12.0

#: What the fake probe takes for audio: a WAV file's magic bytes.
AUDIO_MAGIC: Final = b"RIFF"
INIT: Final = "init.mp4"
SEGMENTS: Final = ("seg_00000.m4s", "seg_00001.m4s")
VARIANT: Final = "index.m3u8"
MASTER: Final = "master.m3u8"

UowFactory = Callable[[], UnitOfWork]


def fake_audio(size: int = 2048) -> bytes:
    """Bytes the fake probe and transcoder take for a WAV file."""
    return AUDIO_MAGIC + b"\0" * max(0, size - len(AUDIO_MAGIC))


class FakeMediaProbe:
    """Accepts files that start like WAV and fit the policy; counts how often it was asked."""

    def __init__(self) -> None:
        self.calls = 0

    def probe(self, path: Path, policy: UploadPolicy) -> AudioInfo:
        self.calls += 1
        if path.stat().st_size > policy.max_bytes:
            raise MediaTooLarge("the upload is too large")
        with path.open("rb") as source:
            if source.read(len(AUDIO_MAGIC)) != AUDIO_MAGIC:
                raise MediaRejected("not an audio file")
        return AudioInfo(
            format_name="wav",
            codec="pcm_s16le",
            duration_s=LADDER_DURATION_S,
            sample_rate=44100,
            channels=2,
        )


class FakeTranscoder:
    """Writes a tiny HLS ladder (init, two segments and a playlist per rung, then a master).

    ``crash_with`` makes the next call raise after it wrote part of its output, as a killed
    ffmpeg would; ``MediaRejected`` is raised for sources that do not look like audio.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.crash_with: Exception | None = None

    def transcode(
        self,
        source: Path,
        out_dir: Path,
        ladder_kbps: Sequence[int],
        *,
        progress: ProgressCallback | None = None,
    ) -> Ladder:
        self.calls += 1
        if not source.read_bytes().startswith(AUDIO_MAGIC):
            raise MediaRejected("cannot decode the source")
        media: list[str] = []
        playlists: list[str] = []
        rungs: list[RungResult] = []
        for kbps in ladder_kbps:
            folder = out_dir / rung_folder(kbps)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / INIT).write_bytes(f"init-{kbps}".encode())
            for segment in SEGMENTS:
                (folder / segment).write_bytes(f"{segment}-{kbps}".encode())
            if self.crash_with is not None:
                crash, self.crash_with = self.crash_with, None
                raise crash
            (folder / VARIANT).write_text(variant_playlist(), encoding="utf-8")
            media += [f"{rung_folder(kbps)}/{name}" for name in (INIT, *SEGMENTS)]
            playlists.append(f"{rung_folder(kbps)}/{VARIANT}")
            rungs.append(RungResult(kbps=kbps, measured_kbps=float(kbps), playlist=playlists[-1]))
            if progress is not None:  # as ffmpeg's reports come, rung by rung
                progress(len(rungs) / (len(ladder_kbps) + 1))
        (out_dir / MASTER).write_text("#EXTM3U\n", encoding="utf-8")
        if progress is not None:
            progress(1.0)
        return Ladder(
            duration_s=LADDER_DURATION_S,
            rungs=tuple(rungs),
            files=(*media, *playlists, MASTER),
            master=MASTER,
        )


def variant_playlist() -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:6", f'#EXT-X-MAP:URI="{INIT}"']
    for segment in SEGMENTS:
        lines += ["#EXTINF:6.0,", segment]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


class RecordingMediaStorage:
    """The in-memory storage, remembering every key written in order.

    ``fail_when(key)`` true makes that write raise before storing anything (an S3 outage);
    ``before_put(key)`` runs just before each write, to look at the world at that moment;
    ``before_delete(prefix)`` the same before each delete, and ``fail_deletes`` makes them raise.
    """

    def __init__(self) -> None:
        self.inner = InMemoryMediaStorage()
        self.puts: list[str] = []
        self.fail_when: Callable[[str], bool] | None = None
        self.before_put: Callable[[str], None] | None = None
        self.before_delete: Callable[[str], None] | None = None
        self.fail_deletes = False

    def _record(self, key: str) -> None:
        if self.fail_when is not None and self.fail_when(key):
            raise ConnectionError(f"storage unavailable while writing {key}")
        if self.before_put is not None:
            self.before_put(key)
        self.puts.append(key)

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        self._record(key)
        self.inner.put_file(key, source, content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._record(key)
        self.inner.put_bytes(key, data, content_type)

    def get_bytes(self, key: str) -> bytes:
        return self.inner.get_bytes(key)

    def download(self, key: str, target: Path) -> None:
        self.inner.download(key, target)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list_keys(self, prefix: str) -> Iterator[str]:
        return self.inner.list_keys(prefix)

    def delete_prefix(self, prefix: str) -> int:
        if self.before_delete is not None:
            self.before_delete(prefix)
        if self.fail_deletes:
            raise ConnectionError(f"storage unavailable while deleting {prefix}")
        return self.inner.delete_prefix(prefix)


def billing_on(charges: Charges) -> ChargingSubscriptionBilling:
    """Subscription billing as the platform does it offline, over ``charges``."""
    return ChargingSubscriptionBilling(charges)


@attrs.define
class LostAfterCharging:
    """The processor takes the money, but its answer never arrives (a timeout, or our process
    dying), ``times`` times; after that it answers as ``inner`` does."""

    inner: OfflinePaymentGateway
    error: Callable[[], BaseException]
    times: int = 1

    def charge(
        self, *, fan_id: str, artist_id: str, amount: Money, description: str, idempotency_key: str
    ) -> ChargeResult:
        result = self.inner.charge(
            fan_id=fan_id,
            artist_id=artist_id,
            amount=amount,
            description=description,
            idempotency_key=idempotency_key,
        )
        if self.times > 0:
            self.times -= 1
            raise self.error()
        return result

    def pay_out(
        self, *, artist_id: str, amount: Money, idempotency_key: str, account_ref: str | None = None
    ) -> PayoutResult:
        return self.inner.pay_out(
            artist_id=artist_id, amount=amount, idempotency_key=idempotency_key, account_ref=account_ref
        )


class DecliningPaymentGateway:
    """A processor that declines every charge (and pays out nothing)."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def charge(
        self,
        *,
        fan_id: str,
        artist_id: str,
        amount: Money,
        description: str,
        idempotency_key: str,
    ) -> ChargeResult:
        self.attempts.append(idempotency_key)
        raise PaymentFailed("card declined")

    def pay_out(
        self, *, artist_id: str, amount: Money, idempotency_key: str, account_ref: str | None = None
    ) -> PayoutResult:
        raise PaymentFailed("payouts are disabled")


class World:
    """The ports together, with shortcuts for setting a scene through the use cases themselves."""

    def __init__(
        self,
        *,
        store: InMemoryStore,
        clock: FrozenClock,
        ids: SequentialIdGenerator,
        hasher: ScryptPasswordHasher,
        tokens: PyJwtTokenIssuer,
        denylist: InMemoryTokenDenylist,
        quota: InMemoryQuotaCounter,
        storage: RecordingMediaStorage,
        signer: HmacUrlSigner,
        gateway: OfflinePaymentGateway,
        probe: FakeMediaProbe,
        transcoder: FakeTranscoder,
        uploads: Path,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids
        self.hasher = hasher
        self.tokens = tokens
        self.denylist = denylist
        self.quota = quota
        self.storage = storage
        self.signer = signer
        self.gateway = gateway
        self.billing = billing_on(gateway)
        self.subscriptions = Subscriptions(self.uow, self.billing, ids, clock)
        self.probe = probe
        self.transcoder = transcoder
        self.uploads = uploads
        #: Payloads of every transcode job queued, in order.
        self.queued: list[Mapping[str, Any]] = []
        #: Whether a queued transcode runs at once (inline), as a worker would pick it up.
        self.auto_transcode = True
        self.jobs = InlineJobQueue({track_cases.TRANSCODE_JOB: self._run_transcode}, max_attempts=1)
        self._numbers = itertools.count(1)
        self._admin: Caller | None = None
        #: What streaming reads through; every unit of work below invalidates it, as in production.
        self.cache = InMemoryCache(clock)
        self.outbox = InMemoryEmailSender()
        self.one_time_tokens = InMemoryOneTimeTokens(clock)
        self.mail = AccountMail(self.outbox, self.one_time_tokens, clock)

    def uow(self) -> UnitOfWork:
        return InvalidatingUnitOfWork(InMemoryUnitOfWork(self.store), self.cache)

    def _run_transcode(self, payload: Mapping[str, Any]) -> None:
        self.queued.append(payload)
        if self.auto_transcode:
            # A file that cannot be decoded leaves the track failed, as the real worker does.
            with contextlib.suppress(MediaRejected):
                self.transcode(str(payload["track_id"]))

    def transcode(self, track_id: str) -> None:
        track_cases.transcode_track(
            track_id,
            uow=self.uow(),
            storage=self.storage,
            transcoder=self.transcoder,
        )

    # --- people ------------------------------------------------------------------------------

    def register(self, role: str, *, name: str | None = None, email: str | None = None) -> Caller:
        number = next(self._numbers)
        account = accounts.register(
            accounts.Register(
                email=email or f"{role}{number}@example.com",
                password=PASSWORD,
                role=role,
                display_name=name or f"{role} {number}",
            ),
            uow=self.uow(),
            hasher=self.hasher,
            ids=self.ids,
            clock=self.clock,
            mail=self.mail,
        )
        # Everyone follows their verification link, as an artist must before being paid.
        profile.confirm_email(link_token(self.outbox.sent(account.email)[-1]), uow=self.uow(), mail=self.mail)
        return Caller(account.id, account.role)

    def artist(self, name: str | None = None) -> Caller:
        return self.register(Role.ARTIST, name=name)

    def fan(self, name: str | None = None) -> Caller:
        return self.register(Role.FAN, name=name)

    def admin(self) -> Caller:
        """The one admin (registered on first use)."""
        if self._admin is None:
            fan = self.register(Role.FAN, email=ADMIN_EMAIL, name="the admin")
            accounts.set_admin(ADMIN_EMAIL, admin=True, uow=self.uow())
            self._admin = Caller(fan.id, Role.ADMIN)
        return self._admin

    def subscribe(self, fan: Caller, artist: Caller, tier: Tier) -> Subscription:
        return self.subscriptions.subscribe(artist.id, tier, caller=fan).subscription

    def fan_on(self, artist: Caller, tier: Tier, *, name: str | None = None) -> Caller:
        """A new fan of ``artist`` on ``tier`` (a free fan has no subscription at all)."""
        fan = self.fan(name)
        if tier is not Tier.FREE:
            self.subscribe(fan, artist, tier)
        return fan

    def live_subscription(self, fan: Caller, artist: Caller) -> Subscription | None:
        with self.uow() as uow:
            return uow.subscriptions.live_for(fan.id, artist.id)

    # --- media -------------------------------------------------------------------------------

    def upload(self, content: bytes | None = None) -> Path:
        path = self.uploads / f"upload-{next(self._numbers)}.wav"
        path.write_bytes(fake_audio() if content is None else content)
        return path

    def ingest(
        self,
        artist: Caller,
        *,
        title: str = "First Song",
        release_at: datetime | None = None,
        exclusive: bool = False,
        content: bytes | None = None,
    ) -> Track:
        return track_cases.ingest_track(
            track_cases.IngestTrack(
                artist_id=artist.id,
                title=title,
                upload=self.upload(content),
                release_at=release_at,
                exclusive=exclusive,
            ),
            caller=artist,
            uow=self.uow(),
            probe=self.probe,
            storage=self.storage,
            jobs=self.jobs,
            ids=self.ids,
            clock=self.clock,
            policy=POLICY,
        )

    def track(self, track_id: str) -> Track:
        with self.uow() as uow:
            found = uow.tracks.get(track_id)
        assert found is not None, f"no track {track_id}"
        return found


# --- one fixture per port ----------------------------------------------------------------------


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def uow_factory(store: InMemoryStore) -> UowFactory:
    return lambda: InMemoryUnitOfWork(store)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def ids() -> SequentialIdGenerator:
    return SequentialIdGenerator("id")


@pytest.fixture
def hasher() -> ScryptPasswordHasher:
    # The cheapest parameters scrypt takes: tests check behaviour, not hashing cost.
    return ScryptPasswordHasher(n=2, r=1, p=1)


@pytest.fixture
def tokens(clock: FrozenClock) -> PyJwtTokenIssuer:
    return PyJwtTokenIssuer(JWT_SECRET, clock=clock)


@pytest.fixture
def denylist(clock: FrozenClock) -> InMemoryTokenDenylist:
    return InMemoryTokenDenylist(clock)


@pytest.fixture
def quota(clock: FrozenClock) -> InMemoryQuotaCounter:
    return InMemoryQuotaCounter(clock)


@pytest.fixture
def storage() -> RecordingMediaStorage:
    return RecordingMediaStorage()


@pytest.fixture
def signer() -> HmacUrlSigner:
    return HmacUrlSigner(URL_SECRET)


@pytest.fixture
def gateway() -> OfflinePaymentGateway:
    return OfflinePaymentGateway(SequentialIdGenerator("gw"))


@pytest.fixture
def declining_gateway() -> DecliningPaymentGateway:
    return DecliningPaymentGateway()


@pytest.fixture
def probe() -> FakeMediaProbe:
    return FakeMediaProbe()


@pytest.fixture
def transcoder() -> FakeTranscoder:
    return FakeTranscoder()


@pytest.fixture
def world(  # noqa: PLR0917 - pytest injects fixtures as parameters, by name
    tmp_path: Path,
    store: InMemoryStore,
    clock: FrozenClock,
    ids: SequentialIdGenerator,
    hasher: ScryptPasswordHasher,
    tokens: PyJwtTokenIssuer,
    denylist: InMemoryTokenDenylist,
    quota: InMemoryQuotaCounter,
    storage: RecordingMediaStorage,
    signer: HmacUrlSigner,
    gateway: OfflinePaymentGateway,
    probe: FakeMediaProbe,
    transcoder: FakeTranscoder,
) -> World:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    return World(
        store=store,
        clock=clock,
        ids=ids,
        hasher=hasher,
        tokens=tokens,
        denylist=denylist,
        quota=quota,
        storage=storage,
        signer=signer,
        gateway=gateway,
        probe=probe,
        transcoder=transcoder,
        uploads=uploads,
    )
