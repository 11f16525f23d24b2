"""The findings of the outside probe (issue 11), each as a request that must now be answered right."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from musicconnect.adapters.memory import InMemoryQuotaCounter
from musicconnect.bootstrap import bootstrap
from musicconnect.domain.errors import MediaRejected
from musicconnect.domain.media import Ladder
from musicconnect.domain.throttling import ThrottlePolicy
from musicconnect.entrypoints.http.hardening import json_depth
from musicconnect.settings import Settings
from tests.unit.http.conftest import PASSWORD, Api, Rebind, assert_error
from tests.unit.http.fakes import FakeMediaProbe, FakeTranscoder


@pytest.fixture
def strict(api: Api, rebind: Rebind) -> Api:
    """The API with the production limits (the other tests run with them scaled up)."""
    api.services = rebind(throttle=ThrottlePolicy(), quota=InMemoryQuotaCounter(api.clock))
    return api


def _login(api: Api, email: str, password: str) -> int:
    return api.client.post("/auth/login", json={"email": email, "password": password}).status_code


# --- 3. throttling ----------------------------------------------------------------------------


def test_wrong_passwords_are_throttled_per_account_with_retry_after(strict: Api) -> None:
    """After the owner's own sign-in, 40 wrong passwords: 9 answered 401, then 429 with
    Retry-After, the right password included; the next window lets the owner in."""
    strict.register("fan", email="target@example.com")  # signs in once
    statuses = [_login(strict, "target@example.com", f"guess number {n}") for n in range(40)]

    assert statuses == [401] * 9 + [429] * 31
    refused = strict.client.post("/auth/login", json={"email": "target@example.com", "password": PASSWORD})
    assert_error(refused, 429, "quota_exceeded")
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    strict.clock.advance(seconds=int(refused.headers["retry-after"]))
    assert _login(strict, "target@example.com", PASSWORD) == 200


def test_one_address_cannot_spray_guesses_over_many_accounts(strict: Api) -> None:
    """100 attempts in the window per client address, whatever the accounts."""
    statuses = [_login(strict, f"user{n}@example.com", "not the password") for n in range(101)]

    assert statuses[:100] == [401] * 100
    assert statuses[100] == 429


def test_registrations_and_resets_are_throttled(strict: Api) -> None:
    """Three registrations of one email an hour; three reset emails per account an hour."""
    body = {"email": "once@example.com", "password": PASSWORD, "role": "fan", "display_name": "O"}
    registered = [strict.client.post("/auth/register", json=body).status_code for _ in range(4)]
    resets = [
        strict.client.post("/auth/password-reset", json={"email": "once@example.com"}).status_code
        for _ in range(4)
    ]

    assert registered == [201, 201, 201, 429]
    assert resets == [202, 202, 202, 429]


def test_plays_are_throttled_per_account(strict: Api) -> None:
    """120 play requests a minute per fan, then 429."""
    artist = strict.artist()
    fan = strict.fan()
    track_id = strict.ready_track(artist)

    statuses = [
        strict.client.post(f"/tracks/{track_id}/plays", headers=fan.headers).status_code for _ in range(121)
    ]

    assert statuses[:120] == [202] * 120
    assert statuses[120] == 429


# --- 4. no enumeration --------------------------------------------------------------------------


def test_a_reset_answers_the_same_for_known_and_unknown_emails(api: Api) -> None:
    """202 and the same (empty) body; only the real owner gets an email."""
    api.register("fan", email="known@example.com")
    known = api.client.post("/auth/password-reset", json={"email": "known@example.com"})
    unknown = api.client.post("/auth/password-reset", json={"email": "unknown@example.com"})

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert api.outbox().sent("unknown@example.com") == []
    assert api.outbox().sent("known@example.com")[-1].subject == "Reset your Music Connect password"


def test_a_reset_for_a_malformed_email_is_refused_before_answering(api: Api) -> None:
    """The reset email goes after the answer; a malformed address is still a 422 first."""
    response = api.client.post("/auth/password-reset", json={"email": "not-an-email"})
    assert_error(response, 422, "invalid_input")


# --- 5. no 5xx from input -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register", "/auth/refresh"])
def test_json_nested_a_thousand_deep_is_400(api: Api, path: str) -> None:
    """Refused before any parser recurses into it."""
    body = "[" * 1000 + "]" * 1000
    response = api.client.post(path, content=body, headers={"content-type": "application/json"})
    assert_error(response, 400)


def test_nesting_inside_strings_does_not_count(api: Api) -> None:
    """Brackets in a password are text, not depth."""
    api.register("fan", email="brackets@example.com")
    body = json.dumps({"email": "brackets@example.com", "password": "[" * 200})
    response = api.client.post("/auth/login", content=body, headers={"content-type": "application/json"})
    assert_error(response, 401)


def test_an_unclosed_string_of_escaped_quotes_is_answered_as_bad_json(api: Api) -> None:
    """Half a megabyte of \\" with no closing quote: a 400 like any broken JSON (the depth scan
    once took seconds per such body, on the event loop)."""
    body = b'{"email": "' + b'\\"' * 250_000
    response = api.client.post("/auth/login", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400)


def test_brackets_after_an_escaped_quote_stay_inside_the_string() -> None:
    """The depth scan reads strings as JSON does: an escaped quote does not end one."""
    assert json_depth(b'{"a": "[[[\\"]]]{{{", "b": [[{"c": 1}]]}') == 4
    assert json_depth(b'"[[[[ never closed') == 0
    assert json_depth(b"[" * 40) == 40


def test_a_release_date_at_the_end_of_time_is_422(api: Api) -> None:
    """9999-12-31T23:59:59-14:00 cannot be moved into UTC: refused, not an OverflowError."""
    artist = api.artist()
    response = api.upload(artist, release_at="9999-12-31T23:59:59-14:00")
    assert_error(response, 422, "invalid_input")


def test_a_validly_signed_token_with_an_unknown_role_is_401(api: Api) -> None:
    """A role this release does not know is an authentication failure, not a crash."""
    pair = api.services.tokens.issue(subject="someone", role="superuser")
    response = api.client.get("/me/subscriptions", headers={"Authorization": f"Bearer {pair.access_token}"})
    assert_error(response, 401, "authentication_failed")


@pytest.mark.parametrize(
    "name",
    ["Nul\x00Byte", "Line\r\nBreak", "evil\u202egnp.exe", "\x1b[31mred\x1b[0m", "C1\x85char", "\u2066iso"],
)
def test_names_with_controls_or_bidi_overrides_are_refused(api: Api, name: str) -> None:
    """NUL, CRLF, U+202E, ANSI escapes, C1 controls and isolates: 422 on registration."""
    body = {"email": "x@example.com", "password": PASSWORD, "role": "fan", "display_name": name}
    assert_error(api.client.post("/auth/register", json=body), 422, "invalid_input")


@pytest.mark.parametrize("title", ["Nul\x00Byte", "Line\r\nBreak", "evil\u202egnp.exe", "\x1b[2Jcleared"])
def test_titles_with_controls_or_bidi_overrides_are_refused(api: Api, title: str) -> None:
    """The probe's four: NUL, CRLF, U+202E and an ANSI escape in a track title are 422, and no
    track is kept."""
    artist = api.artist()
    assert_error(api.upload(artist, title=title), 422, "invalid_input")
    assert api.client.get(f"/artists/{artist.id}/tracks", headers=artist.headers).json() == []


def test_titles_and_messages_follow_the_same_rule(api: Api) -> None:
    """A title with an ANSI escape is refused; a message keeps its line breaks but not U+202E."""
    artist = api.artist()
    assert_error(api.upload(artist, title="\x1b[2Jcleared"), 422, "invalid_input")
    superfan = api.fan_on(artist, "superfan")
    refused = api.client.post(
        f"/artists/{artist.id}/messages", json={"body": "hi \u202e there"}, headers=superfan.headers
    )
    assert_error(refused, 422, "invalid_input")
    kept = api.client.post(
        f"/artists/{artist.id}/messages", json={"body": "line one\nline two"}, headers=superfan.headers
    )
    assert kept.status_code == 201, kept.text


def test_names_are_stored_in_nfc(api: Api) -> None:
    """'é' typed as e + combining accent is stored as the one code point."""
    artist = api.register("artist", name="Rene\u0301e")
    assert api.client.get(f"/artists/{artist.id}").json()["display_name"] == "Ren\u00e9e"


# --- 7. passwords --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["12345678", "password", "password123", "1234567890", "weak@example.com", "weak@example.com!"],
)
def test_weak_passwords_are_refused(api: Api, password: str) -> None:
    """Short, common, or containing the email: 422."""
    body = {"email": "weak@example.com", "password": password, "role": "fan", "display_name": "W"}
    assert_error(api.client.post("/auth/register", json=body), 422, "invalid_input")


# --- 9. plays, tiers, uploads ----------------------------------------------------------------------


def test_two_hundred_plays_in_three_seconds_count_once(api: Api) -> None:
    """All are accepted; the dashboard counts one play."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    fan = api.fan()
    for _ in range(200):
        assert api.client.post(f"/tracks/{track_id}/plays", headers=fan.headers).status_code == 202
        api.clock.advance(timedelta(milliseconds=15))

    dashboard = api.client.get(f"/artists/{artist.id}/dashboard", headers=artist.headers).json()
    assert sum(dashboard["plays_30d"].values()) == 1


def test_a_play_on_a_failed_track_is_refused_and_not_counted(api: Api, rebind: Rebind) -> None:
    """A track whose transcode failed cannot be streamed, so it cannot be played: 409."""
    artist = api.artist()
    api.services = rebind(transcoder=_UndecodableTranscoder())
    response = api.upload(artist)
    track_id = response.json()["track_id"]
    assert api.client.get(f"/tracks/{track_id}", headers=artist.headers).json()["status"] == "failed"
    fan = api.fan()

    assert_error(api.client.post(f"/tracks/{track_id}/plays", headers=fan.headers), 409)
    dashboard = api.client.get(f"/artists/{artist.id}/dashboard", headers=artist.headers).json()
    assert sum(dashboard["plays_30d"].values()) == 0


def test_a_superfan_tier_cannot_cost_less_than_the_supporter_tier(api: Api) -> None:
    """Prices rise with the tier: 422 for a superfan price at or below the supporter's."""
    artist = api.artist()
    for price in (100, 500):
        response = api.client.put(
            f"/artists/{artist.id}/tiers/superfan",
            json={"price_minor": price, "currency": "USD", "features": []},
            headers=artist.headers,
        )
        assert_error(response, 422, "invalid_input")
    raised = api.client.put(
        f"/artists/{artist.id}/tiers/supporter",
        json={"price_minor": 900, "currency": "USD", "features": []},
        headers=artist.headers,
    )
    assert raised.status_code == 200, raised.text


def test_an_upload_into_an_unknown_catalogue_is_never_probed(api: Api) -> None:
    """An admin uploading for an artist who does not exist is refused before ffprobe runs."""
    admin = api.admin()
    probe = api.services.probe
    assert isinstance(probe, FakeMediaProbe)
    response = api.client.post(
        "/artists/no-such-artist/tracks",
        files={"file": ("song.wav", b"RIFF" + b"\0" * 100, "audio/wav")},
        data={"title": "Sneaky"},
        headers=admin.headers,
    )
    assert_error(response, 404)
    assert probe.seen_sizes == []


def test_an_upload_into_another_artists_catalogue_is_never_probed(api: Api) -> None:
    """Another artist or a fan sending a file to someone's catalogue: 403 before ffprobe runs."""
    artist = api.artist()
    probe = api.services.probe
    assert isinstance(probe, FakeMediaProbe)
    for stranger in (api.artist(), api.fan()):
        assert_error(api.upload(artist, as_user=stranger), 403, "forbidden")
    assert probe.seen_sizes == []
    assert api.upload(artist).status_code == 202  # the owner's own upload is probed
    assert len(probe.seen_sizes) == 1


class _UndecodableTranscoder(FakeTranscoder):
    def transcode(self, *_: Any, **__: Any) -> Ladder:
        raise MediaRejected("cannot decode the source")


# --- 10. headers and files --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/auth/login", "/no/such/route", "/schema/openapi.json"])
def test_every_response_carries_the_security_headers(api: Api, path: str) -> None:
    """nosniff, no framing, no referrer, on answers and errors alike; no HSTS over plain HTTP."""
    response = api.client.post(path, json={}) if path == "/auth/login" else api.client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers


def test_hsts_is_sent_over_tls(api: Api) -> None:
    """Served over https, responses ask browsers to keep to https."""
    response = api.client.get("https://testserver.local/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_auth_and_account_answers_are_never_cached(api: Api) -> None:
    """Login, refresh and /me carry Cache-Control: no-store."""
    fan = api.fan()
    login = api.client.post("/auth/login", json={"email": fan.email, "password": PASSWORD})
    refreshed = api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token})
    me = api.client.get("/me", headers=fan.headers)
    for response in (login, refreshed, me):
        assert response.headers["cache-control"] == "no-store", response.request.url


def test_the_data_files_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    """The SQLite files holding password hashes and revocations, and the key, are 0600."""
    data_dir = tmp_path / "data"
    services = bootstrap(Settings(data_dir=data_dir))
    try:
        with services.uow():
            pass
        services.denylist.is_revoked("x")
    finally:
        services.close()
    for name in ("musicconnect.sqlite3", "counters.sqlite3", "secret.key"):
        assert (data_dir / name).stat().st_mode & 0o777 == 0o600, name
    assert data_dir.stat().st_mode & 0o777 == 0o700
