"""The web pages over in-memory adapters: sessions, CSRF, and the fan's and artist's pages."""

from __future__ import annotations

import re

import attrs
import httpx
from litestar import Litestar
from litestar.testing import TestClient

from musicconnect.bootstrap import Services
from musicconnect.domain.payments import LinkKind
from musicconnect.domain.tracks import TrackStatus
from tests.unit.http.conftest import PASSWORD, Api, User
from tests.unit.http.fakes import fake_audio

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_of(client: TestClient[Litestar], path: str = "/") -> str:
    page = client.get(path)
    found = _CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def sign_in(client: TestClient[Litestar], user: User) -> httpx.Response:
    token = csrf_of(client, "/signin")
    return client.post(
        "/signin",
        data={"email": user.email, "password": PASSWORD, "next": "/", "_csrf_token": token},
        follow_redirects=False,
    )


def upload_in_studio(
    client: TestClient[Litestar],
    form: dict[str, str],
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """The studio's upload form with a WAV (or ``content``) as its file; redirects not followed."""
    upload = ("song.wav", fake_audio() if content is None else content, "audio/wav")
    return client.post(
        "/studio/tracks", files={"file": upload}, data=form, headers=headers, follow_redirects=False
    )


def test_the_front_page_is_discover_not_a_json_404(api: Api) -> None:
    api.register("artist", name="Nova Lights")
    api.register("artist", name="Cables")

    everyone = api.client.get("/")
    found = api.client.get("/", params={"q": "nova"})

    assert everyone.status_code == 200
    assert everyone.headers["content-type"].startswith("text/html")
    assert "Nova Lights" in everyone.text
    assert "Cables" in everyone.text
    assert "Nova Lights" in found.text
    assert "Cables" not in found.text


def test_signing_in_sets_a_server_side_httponly_samesite_session(api: Api) -> None:
    fan = api.fan()

    answer = sign_in(api.client, fan)

    assert answer.status_code == 303
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("mc_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie.replace("Lax", "lax")
    assert fan.email not in cookie
    assert fan.id not in cookie
    assert "Library" in api.client.get("/").text


def test_a_wrong_password_shows_the_form_again(api: Api) -> None:
    fan = api.fan()
    token = csrf_of(api.client, "/signin")

    answer = api.client.post(
        "/signin", data={"email": fan.email, "password": "nope nope nope", "_csrf_token": token}
    )

    assert answer.status_code == 401
    assert "wrong email or password" in answer.text


def test_a_form_without_the_csrf_token_is_refused(api: Api) -> None:
    fan = api.fan()
    api.client.get("/signin")

    answer = api.client.post("/signin", data={"email": fan.email, "password": PASSWORD})

    assert answer.status_code == 403


def test_the_bearer_api_needs_no_csrf_token(api: Api) -> None:
    artist = api.artist()
    fan = api.fan()

    assert api.subscribe(fan, artist, "supporter").status_code == 201


def test_signing_up_in_the_browser_signs_in_and_sends_an_artist_to_the_studio(api: Api) -> None:
    token = csrf_of(api.client, "/signup")

    answer = api.client.post(
        "/signup",
        data={
            "email": "nova@example.com",
            "password": PASSWORD,
            "role": "artist",
            "display_name": "Nova",
            "_csrf_token": token,
        },
    )

    assert answer.status_code == 200, answer.text
    assert "Studio: Nova" in answer.text
    assert "Upload a track" in answer.text


def test_a_fan_sees_the_prorated_amount_before_upgrading_and_the_upgrade_happens_on_confirm(api: Api) -> None:
    artist = api.artist()
    fan = api.fan_on(artist, "supporter")
    api.clock.advance(days=15)
    sign_in(api.client, fan)

    confirm = api.client.get(f"/artist/{artist.id}/join", params={"tier": "superfan"})
    token = _CSRF.search(confirm.text).group(1)  # type: ignore[union-attr]
    done = api.client.post(f"/artist/{artist.id}/join", data={"tier": "superfan", "_csrf_token": token})

    assert confirm.status_code == 200
    charge = re.search(r'id="charge">([^<]+)<', confirm.text)
    assert charge is not None
    assert charge.group(1) not in {"0.00 USD", "5.00 USD"}  # prorated: part of the difference
    assert done.status_code == 200
    assert "superfan" in re.search(r'id="my-tier">(\w+)<', done.text).group(1)  # type: ignore[union-attr]


def test_the_web_master_playlist_lists_only_the_fans_rungs(api: Api) -> None:
    artist = api.artist()
    track_id = api.ready_track(artist)
    fan = api.fan()
    sign_in(api.client, fan)

    master = api.client.get(f"/listen/{track_id}")

    assert master.status_code == 200, master.text
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert master.text.count("#EXT-X-STREAM-INF") == 1


def test_listening_needs_a_session(api: Api) -> None:
    artist = api.artist()
    track_id = api.ready_track(artist)

    answer = api.client.get(f"/listen/{track_id}", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/signin?next=")


def test_a_password_reset_ends_the_browser_session(api: Api) -> None:
    fan = api.fan()
    sign_in(api.client, fan)
    assert "Library" in api.client.get("/").text
    token = csrf_of(api.client, "/reset-password")
    api.client.post("/reset-password", data={"email": fan.email, "_csrf_token": token})
    link = next(m for m in api.outbox().sent() if "Reset" in m.subject)
    reset_token = re.search(r"reset-password\?token=(\S+)", link.body).group(1)  # type: ignore[union-attr]
    api.clock.advance(seconds=2)

    changed = api.client.post(
        "/reset-password/confirm",
        data={
            "token": reset_token,
            "password": "another good passphrase",
            "_csrf_token": csrf_of(api.client),
        },
    )

    assert "Password changed" in changed.text
    assert "Library" not in api.client.get("/").text


def test_the_studio_and_dashboard_are_for_the_artist(api: Api) -> None:
    artist = api.artist()
    api.ready_track(artist, title="Morning")
    sign_in(api.client, artist)

    studio = api.client.get("/studio")
    dashboard = api.client.get("/studio/dashboard")
    payouts = api.client.get("/studio/payouts")

    assert "Morning" in studio.text
    assert "128 / 256 / 320" in studio.text
    assert 'data-chart="plays"' in dashboard.text
    assert payouts.status_code == 200


def test_a_fan_cannot_open_the_studio(api: Api) -> None:
    sign_in(api.client, api.fan())

    assert api.client.get("/studio").status_code == 403


def test_error_pages_keep_the_signed_in_navigation(api: Api) -> None:
    """A 403 or a 404 is a page of the site: the signed-in visitor keeps their menu and can sign out."""
    stranger_sees = api.client.get("/artist/nobody")
    sign_in(api.client, api.fan())

    refused = api.client.get("/studio")
    missing = api.client.get("/artist/nobody")

    assert stranger_sees.status_code == 404
    assert "Sign in" in stranger_sees.text
    for answer in (refused, missing):
        assert answer.headers["content-type"].startswith("text/html")
        assert 'href="/library"' in answer.text
        assert "Sign out" in answer.text
        assert 'role="alert"' in answer.text
    assert (refused.status_code, missing.status_code) == (403, 404)


def test_the_browser_packages_are_served(client: TestClient[Litestar]) -> None:
    hls = client.get("/vendor/hls.min.js")

    assert hls.status_code == 200
    assert hls.headers["content-type"].startswith("text/javascript")
    assert client.get("/vendor/nope.js").status_code == 404
    assert client.get("/static/app.js").status_code == 200


def test_an_anonymous_visit_stores_no_session_and_sets_no_session_cookie(
    client: TestClient[Litestar],
) -> None:
    answer = client.get("/")

    assert not any(h.startswith("mc_session=") for h in answer.headers.get_list("set-cookie"))


def test_signing_in_starts_a_new_session_id(api: Api) -> None:
    """A session id planted before sign-in never becomes a signed-in session."""
    fan = api.fan()
    api.client.cookies.set("mc_session", "planted-by-someone-else")

    answer = sign_in(api.client, fan)

    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("mc_session="))
    assert "planted-by-someone-else" not in cookie


def test_a_fan_likes_a_track_and_sees_their_subscriptions_by_artist_name(api: Api) -> None:
    artist = api.register("artist", name="Nova Lights")
    track_id = api.ready_track(artist)
    fan = api.fan_on(artist, "supporter")
    sign_in(api.client, fan)

    liked = api.client.post(f"/track/{track_id}/like", data={"_csrf_token": csrf_of(api.client)})
    library = api.client.get("/library")

    assert liked.status_code == 200
    assert api.services.uow().fans.likes_of(track_id) == 1
    assert "Nova Lights" in library.text
    assert "supporter" in library.text


def test_an_artist_starts_payout_onboarding_and_comes_back_to_the_payouts_page(api: Api) -> None:
    artist = api.artist()
    sign_in(api.client, artist)

    answer = api.client.post(
        "/studio/payouts/onboarding", data={"_csrf_token": csrf_of(api.client)}, follow_redirects=False
    )

    assert answer.status_code == 303
    assert answer.headers["location"].endswith("/studio/payouts")  # offline onboarding is done at once
    with api.services.uow() as uow:
        assert uow.processor_links.get(LinkKind.CONNECTED_ACCOUNT, artist.id) is not None


def test_an_upload_the_studio_refuses_answers_json_for_the_pages_script(api: Api) -> None:
    artist = api.artist()
    sign_in(api.client, artist)

    answer = upload_in_studio(
        api.client,
        {"title": "Noise"},
        content=b"not audio at all",
        headers={"X-CSRFToken": csrf_of(api.client)},
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "media_rejected"


def test_an_upload_from_the_studio_is_ingested_and_its_status_readable(api: Api) -> None:
    artist = api.artist()
    sign_in(api.client, artist)
    token = csrf_of(api.client, "/studio")

    answer = upload_in_studio(api.client, {"title": "Evening"}, headers={"X-CSRFToken": token})
    status = api.client.get(f"/studio/tracks/{answer.json()['track_id']}")

    assert answer.status_code == 202, answer.text
    assert status.json()["status"] == "ready"
    assert status.json()["rungs_kbps"] == [128, 256, 320]


def test_an_upload_posted_without_scripts_is_ingested_and_the_studio_shown_again(api: Api) -> None:
    """The plain multipart form (its CSRF token as a field, no header) works without JavaScript;
    its zone-less release time is read as UTC, as the label says."""
    artist = api.artist()
    sign_in(api.client, artist)
    token = csrf_of(api.client, "/studio")

    answer = upload_in_studio(
        api.client, {"title": "No Script", "release_at": "2030-05-01T09:30", "_csrf_token": token}
    )
    studio = api.client.get(answer.headers["location"])
    [track] = api.client.get(f"/artists/{artist.id}/tracks", headers=artist.headers).json()

    assert answer.status_code == 303, answer.text
    assert "No Script" in studio.text
    assert "being transcoded" in studio.text
    assert track["release_at"].startswith("2030-05-01T09:30:00")
    assert track["release_at"].endswith(("Z", "+00:00"))


def test_an_upload_posted_without_scripts_needs_its_token_and_shows_refusals_as_a_page(api: Api) -> None:
    artist = api.artist()
    sign_in(api.client, artist)
    token = csrf_of(api.client, "/studio")

    forged = upload_in_studio(api.client, {"title": "X", "_csrf_token": "x" * 80})
    refused = upload_in_studio(api.client, {"title": "X", "_csrf_token": token}, content=b"not audio")

    assert forged.status_code == 403
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html"), refused.text
    assert 'role="alert"' in refused.text
    assert api.client.get(f"/artists/{artist.id}/tracks", headers=artist.headers).json() == []


def test_an_upload_without_the_csrf_header_is_refused(api: Api) -> None:
    artist = api.artist()
    sign_in(api.client, artist)

    answer = api.client.post(
        "/studio/tracks", files={"file": ("song.wav", fake_audio(), "audio/wav")}, data={"title": "Evening"}
    )

    assert answer.status_code == 403


def test_an_artist_edits_their_page_in_the_studio_and_fans_see_it(api: Api) -> None:
    artist = api.register("artist", name="Nova")
    sign_in(api.client, artist)

    saved = api.client.post(
        "/studio/profile",
        data={
            "bio": "Tapes from Lyon.\r\nLive on Sundays.",
            "links": "https://nova.example/\r\n",
            "_csrf_token": csrf_of(api.client, "/studio"),
        },
    )
    page = api.client.get(f"/artist/{artist.id}")

    assert saved.status_code == 200, saved.text
    assert "<p>Tapes from Lyon.</p><p>Live on Sundays.</p>" in page.text
    assert 'href="https://nova.example/" rel="nofollow noopener noreferrer ugc"' in page.text


def test_the_artist_edits_and_deletes_a_track_in_the_studio_with_plain_forms(api: Api) -> None:
    """The edit page saves every field (the date typed as UTC); the delete button removes the
    track for fans at once; another artist cannot open the edit page."""
    artist, fan = api.artist(), api.fan()
    track_id = api.ready_track(artist, title="Rough Mix")
    sign_in(api.client, artist)
    form = api.client.get(f"/studio/tracks/{track_id}/edit")
    token = csrf_of(api.client, f"/studio/tracks/{track_id}/edit")

    saved = api.client.post(
        f"/studio/tracks/{track_id}/edit",
        data={
            "title": "Final Mix",
            "description": "Mixed at night.\r\nTwice.",
            "required_tier": "supporter",
            "release_at": "2031-02-03T04:05",
            "_csrf_token": token,
        },
        follow_redirects=False,
    )
    refused = api.client.post(
        f"/studio/tracks/{track_id}/edit",
        data={
            "title": "",
            "description": "",
            "required_tier": "free",
            "release_at": "",
            "_csrf_token": token,
        },
    )
    seen_by_artist = api.client.get(f"/tracks/{track_id}", headers=artist.headers).json()
    studio = api.client.get("/studio")
    deleted = api.client.post(
        f"/studio/tracks/{track_id}/delete", data={"_csrf_token": token}, follow_redirects=False
    )

    assert form.status_code == 200
    assert 'value="Rough Mix"' in form.text
    assert saved.status_code == 303, saved.text
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    assert (seen_by_artist["title"], seen_by_artist["description"], seen_by_artist["required_tier"]) == (
        "Final Mix",
        "Mixed at night.\nTwice.",
        "supporter",
    )
    assert seen_by_artist["release_at"].startswith("2031-02-03T04:05:00")
    assert "Final Mix" in studio.text
    assert "2031-02-03 04:05 UTC" in studio.text
    assert deleted.status_code == 303
    assert "Final Mix" not in api.client.get("/studio").text
    assert api.client.get(f"/tracks/{track_id}/stream", headers=fan.headers).status_code == 404
    sign_in(api.client, api.artist())
    assert api.client.get(f"/studio/tracks/{track_id}/edit").status_code == 404


def test_the_studio_shows_a_transcodes_progress_as_a_number(api: Api, services: Services) -> None:
    """While a track transcodes, the studio row and its status (which the page's script polls)
    say how far it is."""
    artist = api.artist()
    track_id = api.ready_track(artist, title="Long One")
    with services.uow() as uow:
        track = uow.tracks.get(track_id)
        assert track is not None
        uow.tracks.save(attrs.evolve(track, status=TrackStatus.PROCESSING).transcoding(0.4))
        uow.commit()
    sign_in(api.client, artist)

    studio = api.client.get("/studio")
    status = api.client.get(f"/studio/tracks/{track_id}").json()

    assert "processing 40 %" in studio.text
    assert (status["status"], status["progress_percent"]) == ("processing", 40)


def test_the_dashboard_shows_revenue_as_money_not_minor_units(api: Api) -> None:
    """A supporter's 5.00 USD reads as 5.00 paid and 4.50 the artist's, never as 500 and 450."""
    artist = api.artist()
    api.fan_on(artist, "supporter")
    sign_in(api.client, artist)

    dashboard = api.client.get("/studio/dashboard").text

    assert "5.00 USD paid by fans, 4.50 USD yours" in dashboard
    assert "minor units" not in dashboard


def test_the_payouts_page_shows_each_receipt_and_no_processor_to_set_up_offline(api: Api) -> None:
    artist = api.artist()
    api.fan_on(artist, "supporter")
    paid = api.client.post("/payouts/run", json={"period": "2025-03"}, headers=api.admin().headers)
    assert paid.status_code == 200, paid.text
    sign_in(api.client, artist)

    shown = api.client.get("/studio/payouts").text

    receipt = re.search(r"<tr><td>2025-03</td>(.*?)</tr>", shown)
    assert receipt is not None, shown
    cells = re.findall(r"<td>(.*?)</td>", receipt.group(1))
    # Paid by fans, platform fee, processor fee (none offline), the artist's share, status.
    assert cells[:4] == ["5.00 USD", "0.50 USD", "0.00 USD", "4.50 USD"]
    assert cells[4].startswith("paid")
    assert "Stripe" not in shown
    assert "/studio/payouts/onboarding" not in shown


def test_perks_and_notification_kinds_read_as_words_not_code_names(api: Api) -> None:
    artist = api.artist()
    fan = api.fan()
    sign_in(api.client, fan)

    tiers = api.client.get(f"/artist/{artist.id}").text
    settings = api.client.get("/account/notifications").text

    assert "Monthly Q&amp;A" in tiers
    assert "Virtual backstage" in tiers
    assert "Your question is answered" in settings
    for code_name in ("monthly qa", "monthly_qa", "qa answered", "dm reply"):
        assert code_name not in tiers
        assert code_name not in settings
