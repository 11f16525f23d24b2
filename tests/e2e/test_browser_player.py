"""hls.js in Debian's Chromium, on a page from another origin, plays what each tier may hear.

The API runs with a short URL lifetime and CORS for the page's origin only; the page (served by
a second server on another port, so another origin) loads hls.js from node_modules and the
small player in tests/browser. Playwright drives /usr/bin/chromium: its own browser download
is not reachable here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from musicconnect.adapters.ffmpeg import generate_demo_audio
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.servers import musicconnect_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT: Final = Path(__file__).resolve().parents[2]
HLS_JS: Final = ROOT / "node_modules" / "hls.js" / "dist" / "hls.min.js"
PLAYER: Final = ROOT / "tests" / "browser"
PASSWORD: Final = "correct horse battery"
#: Short enough that URLs signed at the start of the track expire before its third segment.
URL_TTL_S: Final = 8
TRACK_S: Final = 30.0
TIER_RUNGS: Final = {"free": ["128k"], "supporter": ["128k", "256k"], "superfan": ["128k", "256k", "320k"]}


class _PageFiles(SimpleHTTPRequestHandler):
    """The page's own origin: the player and hls.js from node_modules, nothing else."""

    routes: Final = {"/": PLAYER / "player.html", "/player.js": PLAYER / "player.js", "/hls.js": HLS_JS}

    def do_GET(self) -> None:
        path = self.routes.get(self.path.split("?", 1)[0])
        if path is None:
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        kind = "text/html" if path.suffix == ".html" else "text/javascript"
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:  # the suite's output is for failures
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    if not HLS_JS.is_file():
        pytest.fail("hls.js is missing: run `npm ci` (scripts/setup.sh does it)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_PageFiles))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@attrs.frozen
class Stage:
    api: str
    track_id: str
    tokens: dict[str, str]


def _register(http: httpx.Client, email: str, role: str) -> tuple[str, str]:
    created = http.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": email}
    )
    assert created.status_code == 201, created.text
    login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return created.json()["id"], login.json()["access_token"]


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, page_origin: str) -> Iterator[Stage]:
    """The API allowing the page's origin, a published 30 s track, and a fan on each tier."""
    root = tmp_path_factory.mktemp("browser")
    env = {
        "MUSICCONNECT_SECRET_KEY": "browser-test-secret-key-long-enough-for-hs256",
        "MUSICCONNECT_CORS_ORIGINS": page_origin,
        "MUSICCONNECT_URL_TTL_S": str(URL_TTL_S),
    }
    with (
        musicconnect_server(root / "data", env=env) as api,
        httpx.Client(base_url=api, timeout=30) as http,
    ):
        artist_id, artist_token = _register(http, "nova@example.com", "artist")
        audio = root / "song.wav"
        generate_demo_audio(audio, TRACK_S)
        with audio.open("rb") as body:
            upload = http.post(
                f"/artists/{artist_id}/tracks",
                headers={"authorization": f"Bearer {artist_token}"},
                files={"file": ("song.wav", body, "audio/wav")},
                data={"title": "Across Origins"},
            )
        assert upload.status_code == 202, upload.text
        track_id = upload.json()["track_id"]
        deadline = time.monotonic() + 120
        while (track := http.get(f"/tracks/{track_id}").json())["status"] == "processing":
            assert time.monotonic() < deadline, "the track was not published in time"
            time.sleep(0.3)
        assert track["rungs_kbps"] == [128, 256, 320], track
        tokens = {}
        for tier in TIER_RUNGS:
            _, token = _register(http, f"{tier}@example.com", "fan")
            if tier != "free":
                subscribed = http.post(
                    f"/artists/{artist_id}/subscription",
                    headers={"authorization": f"Bearer {token}"},
                    json={"tier": tier},
                )
                assert subscribed.status_code == 201, subscribed.text
            tokens[tier] = token
        yield Stage(api=api, track_id=track_id, tokens=tokens)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _open_player(browser: Browser, page_origin: str, stage: Stage, tier: str, *, buffer_s: int) -> Page:
    page = browser.new_page()
    fragment = f"api={stage.api}&track={stage.track_id}&token={stage.tokens[tier]}&buffer={buffer_s}"
    page.goto(f"{page_origin}/#{fragment}")
    return page


def _played_until(page: Page, seconds: float, *, timeout_s: float) -> None:
    page.wait_for_function(
        f"() => document.querySelector('audio').currentTime > {seconds}", timeout=timeout_s * 1000
    )


@pytest.mark.parametrize("tier", list(TIER_RUNGS))
def test_each_tier_plays_its_own_rungs_from_another_origin(
    browser: Browser, page_origin: str, stage: Stage, tier: str
) -> None:
    """hls.js lists exactly the tier's rungs and the audio clock moves: it is playing."""
    page = _open_player(browser, page_origin, stage, tier, buffer_s=30)
    try:
        _played_until(page, 1.5, timeout_s=30)
        levels: list[str] = page.evaluate("() => window.player.levels")
        assert [url.split("?")[0].rsplit("/", 2)[-2] for url in levels] == TIER_RUNGS[tier]
        assert page.evaluate("() => window.player.errors.filter(e => e.fatal)") == []
    finally:
        page.close()


def test_a_player_whose_urls_expire_mid_track_fetches_a_fresh_master_and_plays_on(
    browser: Browser, page_origin: str, stage: Stage
) -> None:
    """Reading only 3 s ahead, the third segment is asked for after the URLs expired: the API
    says url_expired, the player fetches a fresh master and the track plays on past that point."""
    page = _open_player(browser, page_origin, stage, "supporter", buffer_s=3)
    try:
        _played_until(page, 2 * URL_TTL_S, timeout_s=60)
        assert page.evaluate("() => window.player.reloads") >= 1
        errors: list[dict[str, Any]] = page.evaluate("() => window.player.errors")
        assert any(e["code"] == "url_expired" for e in errors), errors
    finally:
        page.close()
