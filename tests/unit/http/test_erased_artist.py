"""An erased artist is closed for good: not listed, no new subscriptions or tier changes, every
fan's paid subscription cancelled through billing, their tracks gone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from musicconnect.bootstrap import bootstrap
from musicconnect.platform import Platform
from musicconnect.settings import Settings
from musicconnect.usecases.artists import discover
from tests.unit.http.conftest import PASSWORD, Api, assert_error, bind

T0_PLUS_A_MONTH = timedelta(days=32)


@pytest.fixture(params=["memory", "sqlite"])
def on_each_store(
    request: pytest.FixtureRequest, api: Api, tmp_path: Path, _shared_platform: Platform
) -> Iterator[Api]:
    """The journey on the in-memory store and on SQLite (the app's own SQLite wiring)."""
    if request.param == "memory":
        yield api
        return
    memory = api.services
    settings = Settings(data_dir=tmp_path / "sqlite", secret_key="x" * 32, throttle_scale=1000)
    on_sqlite = bootstrap(
        settings,
        clock=memory.clock,
        hasher=memory.hasher,
        email=memory.email,
        probe=memory.probe,
        transcoder=memory.transcoder,
        jobs=memory.jobs,
    )
    bind(_shared_platform, on_sqlite)
    api.services = on_sqlite
    yield api
    on_sqlite.close()
    assert list(settings.data_dir.glob("*.sqlite3")), "the journey ran on SQLite"


def test_an_erased_artist_is_closed_to_every_fan(on_each_store: Api) -> None:
    api = on_each_store
    artist = api.artist()
    track_id = api.ready_track(artist, title="Last Song")
    paying = api.fan_on(artist, "supporter")
    free = api.fan_on(artist, "free")
    assert api.client.get(f"/tracks/{track_id}/stream", headers=paying.headers).status_code == 200
    assert artist.id in [a.id for a in discover("", uow=api.services.uow())]

    erased = api.client.request("DELETE", "/me", json={"password": PASSWORD}, headers=artist.headers)

    assert erased.status_code == 204
    assert artist.id not in [a.id for a in discover("", uow=api.services.uow())]
    assert artist.id not in [a.id for a in discover("erased", uow=api.services.uow())]
    assert_error(api.client.get(f"/artists/{artist.id}"), 404)
    newcomer = api.fan()
    assert_error(api.subscribe(newcomer, artist, "supporter"), 404)
    assert_error(api.subscribe(free, artist, "superfan"), 404)
    upgrade = {"tier": "superfan"}
    url = f"/artists/{artist.id}/subscription"
    assert_error(api.client.patch(url, json=upgrade, headers=paying.headers), 404)
    [kept] = api.client.get("/me/subscriptions", headers=paying.headers).json()
    assert (kept["tier"], kept["cancel_at_period_end"]) == ("supporter", True)
    assert_error(api.client.get(f"/tracks/{track_id}/stream", headers=paying.headers), 404)
    assert_error(api.client.get(f"/tracks/{track_id}"), 404)
    assert_error(api.client.post(f"/artists/{artist.id}/follow", headers=newcomer.headers), 404)
    with api.services.uow() as uow:
        assert uow.subscriptions.live_for(newcomer.id, artist.id) is None

    api.clock.set(api.clock.now() + T0_PLUS_A_MONTH)
    run = api.client.post("/admin/billing/run", headers=api.admin().headers)
    assert run.json() == {"renewed": 0, "canceled": 1, "past_due": 0}


def test_nobody_may_take_the_erased_marker_as_a_name(api: Api) -> None:
    """It is how an erased artist is known: a living one named so would vanish from the lists."""
    artist = api.artist()
    assert_error(api.client.patch("/me", json={"display_name": " (Erased) "}, headers=artist.headers), 422)
