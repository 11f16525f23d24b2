"""Uploading tracks, their details, and who may see them."""

from __future__ import annotations

from datetime import timedelta

import httpx

from musicconnect.adapters.filesystem import FilesystemMediaStorage
from musicconnect.bootstrap import Services
from tests.unit.http.conftest import T0, Api, User, assert_error
from tests.unit.http.fakes import FakeMediaProbe, FakeTranscoder


def _stored_keys(services: Services) -> list[str]:
    return list(services.storage.list_keys(""))


def test_an_upload_is_accepted_and_published(api: Api, services: Services) -> None:
    """202 processing; the (inline) transcode then publishes every rung, with its measured rates."""
    artist = api.artist()
    response = api.upload(artist, title="  Morning  ", exclusive="false")
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "processing"
    track = api.client.get(f"/tracks/{accepted['track_id']}").json()
    assert track == {
        "id": accepted["track_id"],
        "artist_id": artist.id,
        "title": "Morning",
        "status": "ready",
        "duration_s": 6.0,
        "rungs_kbps": [128, 256, 320],
        "rungs": [
            {"kbps": kbps, "average_kbps": kbps * 0.9, "peak_kbps": kbps * 1.05} for kbps in (128, 256, 320)
        ],
        "release_at": None,
        "exclusive": False,
        "required_tier": "free",
        "description": "",
        "failure_reason": None,
        "likes": 0,
    }
    assert isinstance(services.transcoder, FakeTranscoder)
    assert services.transcoder.calls == 1
    assert any(key.endswith("/original") for key in _stored_keys(services))


def test_the_upload_reaches_the_probe_byte_for_byte(api: Api, services: Services) -> None:
    """What was streamed to disk is exactly what was sent."""
    artist = api.artist()
    content = b"RIFF" + bytes(range(256)) * 1000
    assert api.upload(artist, content).status_code == 202
    assert isinstance(services.probe, FakeMediaProbe)
    assert services.probe.seen_sizes == [len(content)]
    [original] = [k for k in _stored_keys(services) if k.endswith("/original")]
    assert services.storage.get_bytes(original) == content


def test_release_at_and_exclusive_are_kept(api: Api) -> None:
    """The optional fields arrive on the track."""
    artist = api.artist()
    track_id = api.ready_track(artist, release_at="2025-04-01T09:30:00+02:00", exclusive="true")
    track = api.client.get(f"/tracks/{track_id}", headers=artist.headers).json()
    assert track["release_at"] in {"2025-04-01T07:30:00Z", "2025-04-01T07:30:00+00:00"}
    assert track["exclusive"] is True


def test_a_file_that_is_not_audio_is_422_and_stores_nothing(api: Api, services: Services) -> None:
    """The probe's refusal is a 422 media_rejected, with no track and no media left behind."""
    artist = api.artist()
    response = api.upload(artist, b"#EXTM3U\nfile:///etc/passwd\n")
    assert_error(response, 422, "media_rejected")
    assert api.client.get(f"/artists/{artist.id}/tracks", headers=artist.headers).json() == []
    assert _stored_keys(services) == []
    assert list((services.settings.data_dir / "tmp" / "uploads").iterdir()) == []


def test_only_that_artist_may_upload(api: Api, services: Services) -> None:
    """Another artist or a fan gets 403 before the body is stored; no token gets 401."""
    artist = api.artist()
    for stranger in (api.artist(), api.fan()):
        assert_error(api.upload(artist, as_user=stranger), 403, "forbidden")
    response = api.client.post(f"/artists/{artist.id}/tracks", files={"file": ("a.wav", b"RIFF")})
    assert_error(response, 401)
    assert _stored_keys(services) == []


def test_an_admin_uploading_for_an_unknown_artist_is_404(api: Api) -> None:
    """The artist must exist."""
    admin = api.admin()
    response = api.client.post(
        "/artists/nobody/tracks",
        files={"file": ("a.wav", b"RIFF....")},
        data={"title": "x"},
        headers=admin.headers,
    )
    assert_error(response, 404, "not_found")


def test_malformed_uploads_are_422(api: Api) -> None:
    """No file, no title, a naive or garbled release time, a non-boolean flag, or JSON: all 422."""
    artist = api.artist()
    url = f"/artists/{artist.id}/tracks"
    assert_error(api.client.post(url, data={"title": "x"}, headers=artist.headers), 422, "invalid_input")
    assert_error(
        api.client.post(url, files={"file": ("a.wav", b"RIFF")}, data={"title": " "}, headers=artist.headers),
        422,
    )
    assert_error(api.upload(artist, release_at="2025-04-01T09:30:00"), 422, "invalid_input")
    assert_error(api.upload(artist, release_at="next tuesday"), 422, "invalid_input")
    assert_error(api.upload(artist, exclusive="maybe"), 422, "invalid_input")
    assert_error(api.client.post(url, json={"title": "x"}, headers=artist.headers), 422, "invalid_input")


def test_a_truncated_multipart_body_is_422(api: Api) -> None:
    """A body that stops before the closing boundary is refused."""
    artist = api.artist()
    body = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF1234'
    response = api.client.post(
        f"/artists/{artist.id}/tracks",
        content=body,
        headers={**artist.headers, "Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    assert_error(response, 422, "invalid_input")


def test_the_artist_lists_its_tracks(api: Api) -> None:
    """GET /artists/{id}/tracks lists what the caller may see."""
    artist = api.artist()
    first = api.ready_track(artist, title="One")
    second = api.ready_track(artist, title="Two")
    listed = api.client.get(f"/artists/{artist.id}/tracks").json()
    assert {t["id"] for t in listed} == {first, second}
    assert_error(api.client.get("/artists/nobody/tracks"), 404)


def test_an_unknown_track_is_404(api: Api) -> None:
    """Details of a track that does not exist are not found."""
    assert_error(api.client.get("/tracks/nothing"), 404, "not_found")


def test_early_access_shows_a_release_to_supporters_a_day_early(api: Api) -> None:
    """At release - 24 h supporters see the track; free fans and anonymous callers see it at release."""
    artist = api.artist()
    release = T0 + timedelta(days=3)
    track_id = api.ready_track(artist, release_at=release.isoformat())
    supporter = api.fan_on(artist, "supporter")
    free = api.fan()

    api.clock.set(release - timedelta(hours=23))
    supporter, free = api.login(supporter), api.login(free)
    assert api.client.get(f"/tracks/{track_id}", headers=supporter.headers).status_code == 200
    assert_error(api.client.get(f"/tracks/{track_id}", headers=free.headers), 404)
    assert_error(api.client.get(f"/tracks/{track_id}"), 404)
    assert [
        t["id"] for t in api.client.get(f"/artists/{artist.id}/tracks", headers=free.headers).json()
    ] == []

    api.clock.set(release)
    free = api.login(free)
    assert api.client.get(f"/tracks/{track_id}", headers=free.headers).status_code == 200
    assert api.client.get(f"/tracks/{track_id}").status_code == 200


def test_exclusive_tracks_are_never_shown_below_supporter(api: Api) -> None:
    """Exclusive tracks are hidden from free fans and anonymous callers, not from supporters or the artist."""
    artist = api.artist()
    track_id = api.ready_track(artist, exclusive="true")
    supporter = api.fan_on(artist, "supporter")
    assert_error(api.client.get(f"/tracks/{track_id}", headers=api.fan().headers), 404)
    assert_error(api.client.get(f"/tracks/{track_id}"), 404)
    assert api.client.get(f"/tracks/{track_id}", headers=supporter.headers).status_code == 200
    assert api.client.get(f"/tracks/{track_id}", headers=artist.headers).status_code == 200


def test_the_upload_scratch_space_is_under_the_data_dir(api: Api, services: Services) -> None:
    """Uploads spool next to the media folder, and the spool is emptied after each upload."""
    api.ready_track(api.artist())
    scratch = services.settings.data_dir / "tmp" / "uploads"
    assert scratch.is_dir()
    assert list(scratch.iterdir()) == []
    assert isinstance(services.storage, FilesystemMediaStorage)


def _stream(api: Api, track_id: str, user: User) -> httpx.Response:
    return api.client.get(f"/tracks/{track_id}/stream", headers=user.headers)


def test_the_artist_edits_a_tracks_title_description_tier_and_release(api: Api) -> None:
    """Every editable field changes; what the edit leaves out stays; an explicit null releases now."""
    artist = api.artist()
    track_id = api.ready_track(artist, title="Draft", release_at=(T0 + timedelta(days=9)).isoformat())
    release = (T0 + timedelta(days=3)).isoformat()

    edited = api.client.patch(
        f"/tracks/{track_id}",
        headers=artist.headers,
        json={
            "title": "  Final ",
            "description": "Liner notes.\nTake two.",
            "required_tier": "superfan",
            "release_at": release,
        },
    )
    renamed_only = api.client.patch(f"/tracks/{track_id}", headers=artist.headers, json={"title": "Final 2"})
    released_now = api.client.patch(f"/tracks/{track_id}", headers=artist.headers, json={"release_at": None})

    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["title"], body["description"], body["required_tier"], body["exclusive"]) == (
        "Final",
        "Liner notes.\nTake two.",
        "superfan",
        True,
    )
    assert body["release_at"].startswith(release[:19])
    assert (renamed_only.json()["title"], renamed_only.json()["required_tier"]) == ("Final 2", "superfan")
    assert renamed_only.json()["release_at"] is not None
    assert released_now.json()["release_at"] is None
    assert released_now.json()["description"] == "Liner notes.\nTake two."


def test_only_the_artist_edits_or_deletes_and_bad_edits_are_422(api: Api) -> None:
    artist, other = api.artist(), api.artist()
    track_id = api.ready_track(artist)

    assert_error(api.client.patch(f"/tracks/{track_id}", headers=other.headers, json={"title": "Mine"}), 403)
    assert_error(api.client.delete(f"/tracks/{track_id}", headers=other.headers), 403)
    assert_error(api.client.patch(f"/tracks/{track_id}", json={"title": "x"}), 401)
    for bad in (
        {"title": ""},
        {"title": "a\u202eb"},
        {"title": "x" * 201},
        {"description": "d" * 2001},
        {"required_tier": "gold"},
        {"release_at": "tomorrow"},
        {"release_at": "2030-01-01T00:00:00"},
        {"genre": "pop"},
    ):
        assert_error(api.client.patch(f"/tracks/{track_id}", headers=artist.headers, json=bad), 422)
    assert api.client.get(f"/tracks/{track_id}").json()["title"] == "First Song"
    assert_error(api.client.patch("/tracks/nothing", headers=artist.headers, json={"title": "x"}), 404)


def test_a_raised_tier_requirement_is_enforced_on_the_very_next_stream(api: Api) -> None:
    """The free fan streams (the process now remembers the track), the artist makes it superfan
    only: the free fan's next master is 404 and the supporter's too, the superfan's still plays."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    free, supporter, superfan = api.fan(), api.fan_on(artist, "supporter"), api.fan_on(artist, "superfan")
    before = [_stream(api, track_id, fan).status_code for fan in (free, supporter, superfan)]

    raised = api.client.patch(
        f"/tracks/{track_id}", headers=artist.headers, json={"required_tier": "superfan"}
    )
    after = [_stream(api, track_id, fan).status_code for fan in (free, supporter, superfan)]
    lowered = api.client.patch(f"/tracks/{track_id}", headers=artist.headers, json={"required_tier": "free"})

    assert raised.status_code == 200, raised.text
    assert before == [200, 200, 200]
    assert after == [404, 404, 200]
    assert lowered.status_code == 200
    assert _stream(api, track_id, free).status_code == 200


def test_a_deleted_track_stops_streaming_leaves_the_catalogue_and_its_media_goes(
    api: Api, services: Services
) -> None:
    artist = api.artist()
    track_id = api.ready_track(artist)
    kept = api.ready_track(artist, title="Kept")
    fan = api.fan()
    master = _stream(api, track_id, fan)
    assert master.status_code == 200
    variant = next(line for line in master.text.splitlines() if line.startswith("/media/"))
    assert api.client.get(variant).status_code == 200

    deleted = api.client.delete(f"/tracks/{track_id}", headers=artist.headers)

    assert deleted.status_code == 204, deleted.text
    assert_error(_stream(api, track_id, fan), 404)
    assert_error(_stream(api, track_id, artist), 404)
    assert api.client.get(variant).status_code == 404
    assert_error(api.client.get(f"/tracks/{track_id}", headers=artist.headers), 404)
    listed = api.client.get(f"/artists/{artist.id}/tracks", headers=artist.headers).json()
    assert [t["id"] for t in listed] == [kept]
    assert not [key for key in _stored_keys(services) if f"/tracks/{track_id}/" in key]
    assert [key for key in _stored_keys(services) if f"/tracks/{kept}/" in key]
    assert_error(api.client.delete(f"/tracks/{track_id}", headers=artist.headers), 404)
    assert_error(api.client.patch(f"/tracks/{track_id}", headers=artist.headers, json={"title": "x"}), 404)
