"""The backstage page in the browser: the artist posts a photo, a superfan reads it, sees the
photo and comments, a supporter is shown a 403 page."""

from __future__ import annotations

import html
import re

import httpx
from litestar import Litestar
from litestar.testing import TestClient

from musicconnect.adapters.inprocess import InlineJobQueue
from musicconnect.usecases.backstage_media import CLIP_JOB
from musicconnect.usecases.notifications import NOTIFY_JOB
from tests.support import images
from tests.unit.http.conftest import Api, Rebind
from tests.unit.http.fakes import fake_audio
from tests.unit.http.test_web_pages import csrf_of, sign_in


def artist_posts(
    client: TestClient[Litestar],
    page_path: str,
    body: str,
    *pictures: tuple[str, bytes],
    clip: bytes | None = None,
) -> httpx.Response:
    """The backstage page's form as a browser posts it: native multipart, the token as a field."""
    token = csrf_of(client, page_path)
    fields = [
        ("_csrf_token", (None, token.encode(), "text/plain")),
        ("body", (None, body.encode(), "text/plain")),
    ]
    files = [("image", (name, content, "image/jpeg")) for name, content in pictures]
    if clip is not None:
        files.append(("clip", ("demo.wav", clip, "audio/wav")))
    return client.post(page_path, files=[*fields, *files])


def test_the_artist_posts_a_superfan_comments_and_a_supporter_is_refused(api: Api, app: Litestar) -> None:
    artist = api.artist()
    superfan, supporter = api.fan_on(artist, "superfan"), api.fan_on(artist, "supporter")
    page_path = f"/artist/{artist.id}/backstage"

    sign_in(api.client, artist)
    posted = artist_posts(
        api.client, page_path, "Mixing tonight — « Été »", ("desk.jpg", images.photo_with_gps())
    )
    assert posted.status_code == 200, posted.text
    assert "Mixing tonight — « Été »" in html.unescape(posted.text)

    with TestClient(app) as fan_client:
        sign_in(fan_client, superfan)
        shown = fan_client.get(page_path)
        assert shown.status_code == 200, shown.text
        image_src = re.search(r'<img src="([^"]+)"', shown.text)
        assert image_src is not None, shown.text
        picture = fan_client.get(html.unescape(image_src.group(1)))
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/jpeg"
        post_id = re.search(r'id="post-([^"]+)"', shown.text).group(1)  # type: ignore[union-attr]
        token = csrf_of(fan_client, page_path)
        commented = fan_client.post(
            f"/backstage/{post_id}/comment", data={"body": "Can't wait 🎧", "_csrf_token": token}
        )
        assert commented.status_code == 200, commented.text
        assert "Can't wait 🎧" in html.unescape(commented.text)

    with TestClient(app) as other_client:
        sign_in(other_client, supporter)
        refused = other_client.get(page_path)
        assert refused.status_code == 403
        # The refusal names the tier that grants the backstage and links to joining it.
        assert "superfan" in refused.text.lower()
        assert f"/artist/{artist.id}/join" in refused.text


def test_the_studio_uploads_a_picture_that_the_artist_page_shows(api: Api) -> None:
    """The picture form posts multipart; the artist's page then shows it, re-encoded; a text file
    is refused with a 422 page and changes nothing."""
    artist = api.artist()
    sign_in(api.client, artist)
    token = csrf_of(api.client, "/studio")
    refused = api.client.post(
        "/studio/picture",
        files=[
            ("_csrf_token", (None, token.encode(), "text/plain")),
            ("file", ("me.png", images.text_named_png(), "image/png")),
        ],
    )
    assert refused.status_code == 422
    saved = api.client.post(
        "/studio/picture",
        files=[
            ("_csrf_token", (None, token.encode(), "text/plain")),
            ("file", ("me.jpg", images.photo_with_gps(), "image/jpeg")),
        ],
    )
    assert saved.status_code == 200, saved.text
    shown = api.client.get(f"/artist/{artist.id}")
    source = re.search(r'<img class="portrait" src="([^"]+)"', shown.text)
    assert source is not None, shown.text
    picture = api.client.get(html.unescape(source.group(1)))
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert b"Exif" not in picture.content


def test_markup_in_a_post_and_a_comment_is_shown_as_text_never_run(api: Api, app: Litestar) -> None:
    """HTML is text people may type ("I <3 this"): it is kept as typed and escaped on the page, so
    a post or comment carrying a script tag shows the tag and runs nothing."""
    artist = api.artist()
    superfan = api.fan_on(artist, "superfan")
    page_path = f"/artist/{artist.id}/backstage"
    post_body = '<script>alert("post")</script> I <3 this'
    comment_body = '<img src=x onerror=alert("comment")>'

    sign_in(api.client, artist)
    posted = artist_posts(api.client, page_path, post_body)
    assert posted.status_code == 200, posted.text

    with TestClient(app) as fan_client:
        sign_in(fan_client, superfan)
        post_id = re.search(r'id="post-([^"]+)"', fan_client.get(page_path).text).group(1)  # type: ignore[union-attr]
        token = csrf_of(fan_client, page_path)
        commented = fan_client.post(
            f"/backstage/{post_id}/comment", data={"body": comment_body, "_csrf_token": token}
        )
        assert commented.status_code == 200, commented.text
        page = fan_client.get(page_path).text

    for typed in (post_body, comment_body):
        assert typed not in page  # never raw
        assert typed in html.unescape(page)  # but shown, as typed
    assert "<script>alert" not in page
    assert "<img src=x" not in page


def test_the_artist_posts_a_clip_and_a_superfan_plays_it_in_the_player(api: Api, app: Litestar) -> None:
    artist = api.artist()
    superfan = api.fan_on(artist, "superfan")
    page_path = f"/artist/{artist.id}/backstage"
    sign_in(api.client, artist)

    posted = artist_posts(api.client, page_path, "a demo from tonight", clip=fake_audio())

    assert posted.status_code == 200, posted.text
    with TestClient(app) as fan_client:
        sign_in(fan_client, superfan)
        shown = fan_client.get(page_path).text
        status = re.search(r'class="clip-status">(\w+)<', shown)
        source = re.search(r'data-src="([^"]+)"', shown)
        assert status is not None, shown
        assert status.group(1) == "ready"  # the inline job queue transcoded it at once
        assert source is not None, shown
        playlist = fan_client.get(html.unescape(source.group(1)))
    assert playlist.status_code == 200, playlist.text
    assert playlist.text.startswith("#EXTM3U")
    assert list((api.services.settings.data_dir / "tmp" / "uploads").glob("clip-*")) == []  # nothing left


def test_a_clip_still_processing_shows_its_status_and_no_play_button(api: Api, rebind: Rebind) -> None:
    artist = api.artist()
    # A worker that has not got to the clip yet (and sends no notifications).
    rebind(jobs=InlineJobQueue({CLIP_JOB: lambda _: None, NOTIFY_JOB: lambda _: None}))
    page_path = f"/artist/{artist.id}/backstage"
    sign_in(api.client, artist)

    shown = artist_posts(api.client, page_path, "soon", clip=fake_audio()).text

    assert 'class="clip-status">processing<' in shown
    assert "data-src=" not in shown
