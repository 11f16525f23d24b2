"""The virtual backstage over HTTP: multipart posts, the superfans' feed and comments, signed
media refused to supporters (even with a superfan's URL or a guessed path), hostile uploads."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from musicconnect.bootstrap import Services
from tests.support import images
from tests.unit.http.conftest import PASSWORD, Api, User, assert_error
from tests.unit.http.fakes import fake_audio


def post_backstage(
    api: Api, artist: User, body: str, *, pictures: tuple[bytes, ...] = (), clip: bytes | None = None
) -> object:
    # The body as a form part of its own: a text-only post is multipart too.
    files: list[tuple[str, tuple[str | None, bytes, str]]] = [("body", (None, body.encode(), "text/plain"))]
    files += [("image", (f"photo-{n}.jpg", data, "image/jpeg")) for n, data in enumerate(pictures)]
    if clip is not None:
        files.append(("clip", ("voice-note.wav", clip, "audio/wav")))
    return api.client.post(f"/artists/{artist.id}/backstage", files=files, headers=artist.headers)


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_superfan_reads_the_post_its_image_and_its_clip(api: Api) -> None:
    """201 with the clip processing→ready on the queue; the feed signs image and playlist for
    the superfan; the playlist's segment URIs serve the segment; a supporter is refused all of it."""
    artist = api.artist()
    superfan, supporter = api.fan_on(artist, "superfan"), api.fan_on(artist, "supporter")
    created = post_backstage(
        api, artist, "New demo — « Été » 🎙", pictures=(images.photo_with_gps(),), clip=fake_audio()
    )
    assert created.status_code == 201, created.text  # type: ignore[attr-defined]

    feed = api.client.get(f"/artists/{artist.id}/backstage", headers=superfan.headers)
    assert feed.status_code == 200, feed.text
    post = feed.json()["posts"][0]
    assert post["body"] == "New demo — « Été » 🎙"
    assert post["clip"]["status"] == "ready"
    image = api.client.get(relative(post["images"][0]["url"]), headers=superfan.headers)
    assert image.status_code == 200, image.text
    assert image.headers["content-type"] == "image/jpeg"
    assert b"Exif" not in image.content

    playlist = api.client.get(relative(post["clip"]["url"]))
    assert playlist.status_code == 200, playlist.text
    segment_url = next(
        line for line in playlist.text.splitlines() if line.startswith("/media/") and ".m4s" in line
    )
    segment = api.client.get(segment_url)
    assert segment.status_code == 200, segment.text
    assert segment.content

    # The supporter: no feed, and neither the superfan's URLs (sent as themself) nor guessed paths.
    assert_error(api.client.get(f"/artists/{artist.id}/backstage", headers=supporter.headers), 403)
    assert_error(api.client.get(relative(post["clip"]["url"]), headers=supporter.headers), 403)
    assert_error(api.client.get(segment_url, headers=supporter.headers), 403)
    assert_error(api.client.get(relative(post["images"][0]["url"]), headers=supporter.headers), 403)
    guessed = urlsplit(post["clip"]["url"]).path
    assert_error(api.client.get(guessed, headers=supporter.headers), 403)
    assert_error(api.client.get(guessed.replace("index.m3u8", "segment_00000.m4s")), 403)


def test_comments_moderation_and_blocking(api: Api) -> None:
    artist = api.artist()
    alice, bob = api.fan_on(artist, "superfan"), api.fan_on(artist, "superfan")
    post = post_backstage(api, artist, "Setlist ideas?").json()  # type: ignore[attr-defined]
    comments = f"/backstage/{post['id']}/comments"
    first = api.client.post(comments, json={"body": "Play « Nuits blanches »!"}, headers=alice.headers)
    assert first.status_code == 201, first.text
    assert_error(api.client.delete(f"{comments}/{first.json()['id']}", headers=bob.headers), 403)
    assert api.client.delete(f"{comments}/{first.json()['id']}", headers=artist.headers).status_code == 204

    blocks = f"/artists/{artist.id}/backstage/blocks"
    assert api.client.put(f"{blocks}/{alice.id}", headers=artist.headers).status_code == 204
    assert api.client.get(blocks, headers=artist.headers).json() == [alice.id]
    assert_error(api.client.post(comments, json={"body": "again"}, headers=alice.headers), 403)
    assert api.client.get(f"/backstage/{post['id']}", headers=alice.headers).status_code == 200
    assert_error(api.client.put(f"{blocks}/{bob.id}", headers=alice.headers), 403)
    assert api.client.delete(f"{blocks}/{alice.id}", headers=artist.headers).status_code == 204
    assert api.client.post(comments, json={"body": "back"}, headers=alice.headers).status_code == 201
    assert [c["body"] for c in api.client.get(comments, headers=bob.headers).json()] == ["back"]
    assert_error(api.client.post(comments, json={"body": "bell\x07"}, headers=bob.headers), 422)


def test_editing_deleting_and_paging(api: Api) -> None:
    artist = api.artist()
    superfan = api.fan_on(artist, "superfan")
    ids = []
    for n in range(5):
        ids.append(post_backstage(api, artist, f"post {n}").json()["id"])  # type: ignore[attr-defined]
        api.clock.advance(minutes=1)
    edited = api.client.patch(f"/backstage/{ids[0]}", json={"body": "post 0, edited"}, headers=artist.headers)
    assert edited.status_code == 200, edited.text
    assert edited.json()["edited_at"] is not None
    assert_error(
        api.client.patch(f"/backstage/{ids[0]}", json={"body": "mine"}, headers=superfan.headers), 403
    )
    assert api.client.delete(f"/backstage/{ids[1]}", headers=artist.headers).status_code == 204

    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.client.get(
            f"/artists/{artist.id}/backstage", params=params, headers=superfan.headers
        ).json()
        seen += [p["id"] for p in page["posts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[4], ids[3], ids[2], ids[0]]
    assert_error(
        api.client.get(f"/artists/{artist.id}/backstage", params={"limit": "0"}, headers=superfan.headers),
        422,
    )
    assert_error(
        api.client.get(f"/artists/{artist.id}/backstage", params={"cursor": "zzz"}, headers=superfan.headers),
        422,
    )


@pytest.mark.parametrize(
    ("upload", "status"),
    [
        (images.truncated_jpeg(), 422),
        (images.png_bomb(), 413),
        (images.text_named_png(), 422),
        (images.huge_dimensions(), 413),
    ],
    ids=["truncated jpeg", "png bomb", "text named png", "huge dimensions"],
)
def test_hostile_images_are_a_clear_4xx_and_nothing_is_stored(
    api: Api, services: Services, upload: bytes, status: int
) -> None:
    artist = api.artist()
    refused = post_backstage(api, artist, "look", pictures=(images.photo(64, 64), upload), clip=fake_audio())
    assert_error(refused, status)  # type: ignore[arg-type]
    assert list(services.storage.list_keys(f"artists/{artist.id}/")) == []
    assert api.client.get(f"/artists/{artist.id}/backstage", headers=artist.headers).json()["posts"] == []


def test_a_non_audio_clip_and_too_many_images_are_refused(api: Api, services: Services) -> None:
    artist = api.artist()
    assert_error(post_backstage(api, artist, "note", clip=b"%PDF-1.7 not audio"), 422)  # type: ignore[arg-type]
    five = tuple(images.photo(32, 32) for _ in range(5))
    assert_error(post_backstage(api, artist, "five", pictures=five), 422)  # type: ignore[arg-type]
    assert list(services.storage.list_keys(f"artists/{artist.id}/")) == []


def test_the_routes_are_in_the_openapi_document(api: Api) -> None:
    paths = api.client.get("/schema/openapi.json").json()["paths"]
    for path in (
        "/artists/{artist_id}/backstage",
        "/backstage/{post_id}",
        "/backstage/{post_id}/comments",
        "/artists/{artist_id}/backstage/blocks/{fan_id}",
        "/media/artists/{artist_id}/backstage/{post_id}/clip/hls/{rung}/{filename}",
    ):
        assert path in paths, path
    body = paths["/artists/{artist_id}/backstage"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert set(body["schema"]["properties"]) == {"body", "image", "clip"}


def test_a_fans_comments_are_exported_and_erased_with_them(api: Api) -> None:
    """GET /me/export lists the backstage comments a fan wrote; DELETE /me removes them."""
    artist = api.artist()
    fan, other = api.fan_on(artist, "superfan"), api.fan_on(artist, "superfan")
    post = post_backstage(api, artist, "Question of the day").json()  # type: ignore[attr-defined]
    comments = f"/backstage/{post['id']}/comments"
    api.client.post(comments, json={"body": "my private words"}, headers=fan.headers)
    api.client.post(comments, json={"body": "someone else's"}, headers=other.headers)

    exported = api.client.get("/me/export", headers=fan.headers).json()
    assert [c["body"] for c in exported["engagement"]["backstage_comments"]] == ["my private words"]
    erased = api.client.request("DELETE", "/me", json={"password": PASSWORD}, headers=fan.headers)
    assert erased.status_code == 204, erased.text
    left = api.client.get(comments, headers=other.headers).json()
    assert [c["body"] for c in left] == ["someone else's"]
