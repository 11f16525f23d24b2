"""The artist's profile picture over HTTP: the owner uploads, anyone sees it on the artist view."""

from __future__ import annotations

import io

from PIL import ExifTags, Image

from musicconnect.bootstrap import Services
from tests.support import images
from tests.unit.http.conftest import Api, User, assert_error


def upload(api: Api, artist: User, data: bytes, *, as_user: User | None = None) -> object:
    return api.client.put(
        f"/artists/{artist.id}/image",
        files={"file": ("me.jpg", data, "image/jpeg")},
        headers=(as_user or artist).headers,
    )


def test_the_owner_uploads_and_anyone_sees_it_without_its_gps(api: Api, services: Services) -> None:
    """Scaled to 1024 px, metadata gone; a second upload gets a new URL and the old file goes."""
    artist = api.artist()
    assert api.client.get(f"/artists/{artist.id}").json()["image_url"] is None
    first = upload(api, artist, images.photo(3000, 2000))
    assert first.status_code == 200, first.text  # type: ignore[attr-defined]
    url = api.client.get(f"/artists/{artist.id}").json()["image_url"]
    assert url == first.json()["image_url"]  # type: ignore[attr-defined]
    picture = api.client.get(url)
    assert picture.status_code == 200, picture.text
    with Image.open(io.BytesIO(picture.content)) as decoded:
        assert decoded.size == (1024, 683)

    second = upload(api, artist, images.photo_with_gps()).json()  # type: ignore[attr-defined]
    assert second["image_url"] != url
    shown = api.client.get(second["image_url"])
    with Image.open(io.BytesIO(shown.content)) as decoded:
        assert not decoded.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert len(list(services.storage.list_keys(f"artists/{artist.id}/picture/"))) == 1


def test_others_are_refused_and_hostile_files_store_nothing(api: Api, services: Services) -> None:
    artist, other, fan = api.artist(), api.artist(), api.fan()
    assert_error(upload(api, artist, images.photo(100, 100), as_user=other), 403)  # type: ignore[arg-type]
    assert_error(upload(api, artist, images.photo(100, 100), as_user=fan), 403)  # type: ignore[arg-type]
    assert_error(upload(api, artist, images.png_bomb()), 413)  # type: ignore[arg-type]
    assert_error(upload(api, artist, images.text_named_png()), 422)  # type: ignore[arg-type]
    assert_error(upload(api, artist, images.truncated_jpeg()), 422)  # type: ignore[arg-type]
    assert list(services.storage.list_keys(f"artists/{artist.id}/")) == []
    assert_error(api.client.get(f"/artists/{artist.id}/image"), 404)
    admin = api.admin()
    assert upload(api, artist, images.photo(64, 64), as_user=admin).status_code == 200  # type: ignore[attr-defined]
