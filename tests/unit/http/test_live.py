"""The live routes over in-memory adapters: scheduling, the ingest server's callbacks, the live master."""

from __future__ import annotations

from musicconnect.bootstrap import Services
from tests.unit.http.conftest import Api, User, assert_error

STARTS = "2025-06-01T20:00:00Z"  # within a year of the test clock


def _schedule(api: Api, artist: User) -> dict[str, object]:
    made = api.client.post(
        f"/artists/{artist.id}/live", headers=artist.headers, json={"title": "Set", "starts_at": STARTS}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def _callback(api: Api, services: Services, event: str, key: object, token: str | None = None) -> int:
    response = api.client.post(
        f"/live/ingest/{event}",
        params={"token": services.ingest_token if token is None else token},
        data={"call": event, "app": "live", "name": str(key)},
    )
    return response.status_code


def test_an_artist_schedules_a_session_and_gets_the_server_and_key(api: Api) -> None:
    artist = api.artist()
    made = _schedule(api, artist)
    session = made["session"]
    assert isinstance(session, dict)
    assert session["status"] == "scheduled"
    assert made["ingest_url"] == "rtmp://127.0.0.1:1935/live"
    assert str(made["stream_key"]).startswith(f"{session['id']}.")
    listed = api.client.get(f"/artists/{artist.id}/live").json()
    assert [s["id"] for s in listed] == [session["id"]]


def test_naive_or_malformed_start_times_are_refused(api: Api) -> None:
    artist = api.artist()
    for starts_at in ("2030-06-01T20:00:00", "tomorrow"):
        response = api.client.post(
            f"/artists/{artist.id}/live",
            headers=artist.headers,
            json={"title": "Set", "starts_at": starts_at},
        )
        assert_error(response, 422)


def test_a_start_in_the_past_or_beyond_a_year_is_422_and_a_little_clock_skew_is_not(api: Api) -> None:
    """1970 and 9999 (the reported cases) and a day ago are refused; two minutes ago and in
    three hundred days are accepted (the test clock is 2025-03-10 12:00 UTC)."""
    artist = api.artist()

    def schedule(starts_at: str) -> int:
        url = f"/artists/{artist.id}/live"
        return api.client.post(
            url, headers=artist.headers, json={"title": "Set", "starts_at": starts_at}
        ).status_code

    refused = ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2025-03-09T12:00:00Z", "2026-03-12T12:00:00Z"]
    assert [schedule(s) for s in refused] == [422] * len(refused)
    assert [schedule(s) for s in ("2025-03-10T11:58:00Z", "2026-01-04T12:00:00Z")] == [201, 201]


def test_the_ingest_callbacks_accept_the_key_once_and_refuse_strangers(api: Api, services: Services) -> None:
    """on_publish: 200 for the key, 403 for a second push, a wrong key or a caller without the token."""
    artist = api.artist()
    made = _schedule(api, artist)
    key = made["stream_key"]
    session_id = made["session"]["id"]  # type: ignore[index]

    assert _callback(api, services, "publish", key, token="not-ours") == 403
    assert _callback(api, services, "publish", f"{session_id}.wrong") == 403
    assert _callback(api, services, "publish", key) == 200
    assert _callback(api, services, "publish", key) == 403
    assert _callback(api, services, "update", key) == 200
    assert _callback(api, services, "publish_done", key) == 200
    assert api.client.get(f"/live/{session_id}").json()["status"] == "live"
    assert _callback(api, services, "nonsense", key) == 403


def test_the_live_master_is_for_superfans_only(api: Api, services: Services) -> None:
    artist = api.artist()
    made = _schedule(api, artist)
    session_id = made["session"]["id"]  # type: ignore[index]
    assert _callback(api, services, "publish", made["stream_key"]) == 200
    services.storage.put_bytes(
        f"artists/{artist.id}/live/{session_id}/hls/128k/index.m3u8", b"#EXTM3U\n", "x"
    )

    superfan = api.client.get(f"/live/{session_id}/stream", headers=api.fan_on(artist, "superfan").headers)
    assert superfan.status_code == 200, superfan.text
    assert superfan.headers["cache-control"] == "private, no-store"
    for tier in ("supporter", "free"):
        assert_error(
            api.client.get(f"/live/{session_id}/stream", headers=api.fan_on(artist, tier).headers), 403
        )
    assert_error(api.client.get(f"/live/{session_id}/stream"), 401)


def test_only_the_artist_rotates_the_key_or_ends_the_session(api: Api) -> None:
    artist = api.artist()
    made = _schedule(api, artist)
    session_id = made["session"]["id"]  # type: ignore[index]
    fan = api.fan()
    assert_error(api.client.post(f"/live/{session_id}/key", headers=fan.headers), 403)
    assert_error(api.client.post(f"/live/{session_id}/end", headers=fan.headers), 403)
    rotated = api.client.post(f"/live/{session_id}/key", headers=artist.headers)
    assert rotated.status_code == 200
    assert rotated.json()["stream_key"] != made["stream_key"]
    ended = api.client.post(f"/live/{session_id}/end", headers=artist.headers)
    assert ended.json()["status"] == "ended"
