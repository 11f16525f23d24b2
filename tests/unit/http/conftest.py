"""An API over in-memory adapters, a frozen clock, and the fake probe and transcoder."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from musicconnect.adapters.crypto import ScryptPasswordHasher
from musicconnect.adapters.inprocess import InlineJobQueue
from musicconnect.adapters.memory import FrozenClock, InMemoryEmailSender, InMemoryStore, InMemoryUnitOfWork
from musicconnect.bootstrap import Services, bootstrap
from musicconnect.domain.errors import MediaRejected
from musicconnect.entrypoints.http import create_app
from musicconnect.platform import Platform
from musicconnect.ports.services import JobQueue
from musicconnect.settings import Settings
from musicconnect.usecases.accounts import set_admin
from musicconnect.usecases.backstage_media import CLIP_JOB
from musicconnect.usecases.live import FINISH_JOB
from musicconnect.usecases.notifications import NOTIFY_JOB
from musicconnect.usecases.tracks import TRANSCODE_JOB
from tests.support.accounts import verify_email
from tests.unit.http.fakes import FakeMediaProbe, FakeTranscoder, fake_audio

T0: Final = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
ADMIN_EMAIL: Final = "admin@example.com"
PASSWORD: Final = "correct horse battery"
MAX_UPLOAD_BYTES: Final = 1024 * 1024


@attrs.frozen
class User:
    id: str
    role: str
    email: str
    access_token: str = ""
    refresh_token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Api:
    """Drives the API as a client would, with a few shortcuts for setting the scene."""

    def __init__(self, client: TestClient[Litestar], services: Services, clock: FrozenClock) -> None:
        self.client = client
        self.services = services
        self.clock = clock
        self._numbers = itertools.count(1)

    def register(self, role: str, *, email: str | None = None, name: str | None = None) -> User:
        number = next(self._numbers)
        email = email or f"{role}{number}@example.com"
        response = self.client.post(
            "/auth/register",
            json={
                "email": email,
                "password": PASSWORD,
                "role": role,
                "display_name": name or f"{role} {number}",
            },
        )
        assert response.status_code == 201, response.text
        # Everyone follows their verification link, as an artist must before being paid.
        verify_email(self.client, self.services.email, email)
        return self.login(User(id=response.json()["id"], role=response.json()["role"], email=email))

    def login(self, user: User) -> User:
        """The same user with fresh tokens (access tokens expire as the frozen clock moves on)."""
        login = self.client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        tokens = login.json()
        return attrs.evolve(user, access_token=tokens["access_token"], refresh_token=tokens["refresh_token"])

    def outbox(self) -> InMemoryEmailSender:
        sender = self.services.email
        assert isinstance(sender, InMemoryEmailSender)
        return sender

    def artist(self) -> User:
        return self.register("artist")

    def fan(self) -> User:
        return self.register("fan")

    def admin(self) -> User:
        """A fan the operator made admin (``musicconnect admin grant``), signed in again."""
        user = self.register("fan", email=ADMIN_EMAIL)
        set_admin(ADMIN_EMAIL, admin=True, uow=self.services.uow())
        return self.login(attrs.evolve(user, role="admin"))

    def upload(
        self,
        artist: User,
        content: bytes | None = None,
        *,
        as_user: User | None = None,
        title: str = "First Song",
        release_at: str | None = None,
        exclusive: str | None = None,
    ) -> httpx.Response:
        form = {"title": title}
        if release_at is not None:
            form["release_at"] = release_at
        if exclusive is not None:
            form["exclusive"] = exclusive
        return self.client.post(
            f"/artists/{artist.id}/tracks",
            files={"file": ("song.wav", fake_audio() if content is None else content, "audio/wav")},
            data=form,
            headers=(as_user or artist).headers,
        )

    def ready_track(
        self,
        artist: User,
        *,
        title: str = "First Song",
        release_at: str | None = None,
        exclusive: str | None = None,
    ) -> str:
        response = self.upload(artist, title=title, release_at=release_at, exclusive=exclusive)
        assert response.status_code == 202, response.text
        track_id: str = response.json()["track_id"]
        return track_id

    def subscribe(self, fan: User, artist: User, tier: str) -> httpx.Response:
        return self.client.post(
            f"/artists/{artist.id}/subscription", json={"tier": tier}, headers=fan.headers
        )

    def fan_on(self, artist: User, tier: str) -> User:
        fan = self.fan()
        if tier != "free":
            response = self.subscribe(fan, artist, tier)
            assert response.status_code == 201, response.text
        return fan


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


def _bootstrap(data_dir: Path, clock: FrozenClock, store: InMemoryStore, jobs: JobQueue) -> Services:
    settings = Settings(
        data_dir=data_dir,
        secret_key="x" * 32,
        throttle_scale=1000,
        max_upload_bytes=MAX_UPLOAD_BYTES,
    )
    return bootstrap(
        settings,
        uow=lambda: InMemoryUnitOfWork(store),
        clock=clock,
        hasher=ScryptPasswordHasher(n=2, r=1, p=1),
        email=InMemoryEmailSender(),
        probe=FakeMediaProbe(),
        transcoder=FakeTranscoder(),
        jobs=jobs,
    )


@pytest.fixture(scope="session")
def _shared_platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    """One Platform for the session's one app; each test binds it to fresh services."""
    shell = _bootstrap(tmp_path_factory.mktemp("shell"), FrozenClock(T0), InMemoryStore(), InlineJobQueue({}))
    return Platform.of(shell)


@pytest.fixture(scope="session")
def _shared_app(_shared_platform: Platform) -> Litestar:
    # Building a Litestar app costs about 0.3 s; the handlers read the platform's groups at
    # request time, so one app serves every test.
    return create_app(_shared_platform)


def bind(shared: Platform, services: Services) -> None:
    """Point the shared app's platform at use cases bound to ``services`` (test-only: a real
    Platform is bound once and never changes)."""
    fresh = Platform.of(services)
    for field in attrs.fields(Platform):
        object.__setattr__(shared, field.name, getattr(fresh, field.name))


@pytest.fixture
def services(
    tmp_path: Path, clock: FrozenClock, store: InMemoryStore, _shared_platform: Platform
) -> Iterator[Services]:
    """Services over in-memory repositories and this test's own data folder, clock and store."""

    def transcode(payload: Mapping[str, Any]) -> None:
        # Through the app's tracks, so a port a test swapped in (rebind) is the one used. A file
        # that cannot be decoded leaves the track failed, as the real worker does.
        with contextlib.suppress(MediaRejected):
            _shared_platform.tracks.transcode(str(payload["track_id"]))

    def notify(payload: Mapping[str, Any]) -> None:
        _shared_platform.notifications.fan_out(payload)

    def finish_live(payload: Mapping[str, Any]) -> None:
        _shared_platform.live.run_finish_job(payload)

    def clip(payload: Mapping[str, Any]) -> None:
        _shared_platform.backstage.run_clip_job(payload)

    # The worker's jobs, run at once: transcodes (which announce releases), notification
    # fan-outs, the ends of live sessions, backstage clips.
    jobs = InlineJobQueue(
        {TRANSCODE_JOB: transcode, NOTIFY_JOB: notify, FINISH_JOB: finish_live, CLIP_JOB: clip}
    )
    fresh = _bootstrap(tmp_path, clock, store, jobs)
    bind(_shared_platform, fresh)
    yield fresh
    fresh.close()


#: Replaces some of the test's ports (by name) in the app; returns the services it now runs on.
Rebind = Callable[..., Services]


@pytest.fixture
def rebind(services: Services, _shared_platform: Platform) -> Rebind:
    def replace(**ports: Any) -> Services:
        changed = attrs.evolve(services, **ports)
        bind(_shared_platform, changed)
        return changed

    return replace


@pytest.fixture
def app(services: Services, _shared_app: Litestar) -> Litestar:
    return _shared_app


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient[Litestar], services: Services, clock: FrozenClock) -> Api:
    return Api(client, services, clock)


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """The status is ``status`` and the body is exactly ``{"error", "detail"}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert isinstance(body["detail"], str)
    if code is not None:
        assert body["error"] == code, body
