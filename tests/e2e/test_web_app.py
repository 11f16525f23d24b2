"""The web app in Debian's Chromium, on a served app with real ffmpeg, as its people use it.

One journey (module-scoped, in order): an artist signs up and uploads a track that becomes ready;
three fans sign up, two subscribe in the browser, and each hears exactly the rungs of their tier;
a free fan cannot reach 256k; an upgrade grows the menu while the track plays on, without a page
load; the dashboard charts the plays; URLs that expire mid-track are renewed; the artist posts a
clip backstage and a superfan plays it in the same player. Then a form posted
from another origin is refused, axe-core finds no critical violation, and screenshots of the main
pages at desktop and phone width are written to the folder the run reports.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from musicconnect.adapters.ffmpeg import generate_demo_audio
from tests.e2e.backends import BACKENDS, backend_env
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.servers import musicconnect_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]
#: The journey runs on both backends; the checks of the pages themselves once.
ON_EVERY_BACKEND: Final = pytest.mark.parametrize("journey", BACKENDS, indirect=True)
ONCE: Final = pytest.mark.parametrize("journey", ["embedded"], indirect=True)

ROOT: Final = Path(__file__).resolve().parents[2]
AXE: Final = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD: Final = "correct horse battery"
#: Short enough that a player reading 3 s ahead asks for a segment after its URL expired.
URL_TTL_S: Final = 8
TRACK_S: Final = 30.0
RUNGS: Final = {"free": ["auto", "128 kbps"], "supporter": ["auto", "128 kbps", "256 kbps"]}
RUNGS["superfan"] = [*RUNGS["supporter"], "320 kbps"]
DESKTOP: Final = {"width": 1280, "height": 860}
PHONE: Final = {"width": 390, "height": 844}
#: Where the screenshots go; the run prints it (tests/e2e/conftest.py).
SHOTS: Final = Path(os.environ.get("MUSICCONNECT_SCREENSHOTS", ROOT / "build" / "screenshots"))


class Journey:
    """What the steps share: the served app, the browser, each person's signed-in page."""

    def __init__(self, base: str, browser: Browser, audio: Path) -> None:
        self.base = base
        self.browser = browser
        self.audio = audio
        self.pages: dict[str, Page] = {}
        self.console_errors: list[str] = []
        self.artist_id = ""
        self.track_id = ""

    def context(self, **options: Any) -> BrowserContext:
        return self.browser.new_context(base_url=self.base, **options)

    def page(self, context: BrowserContext) -> Page:
        page = context.new_page()
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.console_errors.append(f"{page.url}: {error}"))
        return page

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{page.url}: {message.text}")

    def sign_up(self, who: str, role: str) -> Page:
        page = self.page(self.context(viewport=DESKTOP))
        page.goto("/signup")
        page.get_by_label("Name people see").fill(who.capitalize())
        page.get_by_label("Email").fill(f"{who}@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label(f"a {role}" if role == "fan" else "an artist").check()
        page.get_by_role("button", name="Sign up").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        self.pages[who] = page
        return page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def journey(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> Iterator[Journey]:
    """The served app on a backend: embedded, or MongoDB + Redis (sessions too) + S3 with the
    transcodes in a separate worker process."""
    if not AXE.is_file():
        pytest.fail("axe-core is missing: run `npm ci` (scripts/setup.sh does it)")
    root = tmp_path_factory.mktemp(f"web-{request.param}")
    with backend_env(request.param, root) as backend:
        env = {
            **backend,
            "MUSICCONNECT_SECRET_KEY": "web-test-secret-key-long-enough-for-hs256",
            "MUSICCONNECT_URL_TTL_S": str(URL_TTL_S),
        }
        yield from _served(root, env, browser)


def _served(root: Path, env: dict[str, str], browser: Browser) -> Iterator[Journey]:
    with musicconnect_server(root / "data", env=env) as base:
        audio = root / "song.wav"
        generate_demo_audio(audio, TRACK_S)
        yield Journey(base, browser, audio)


def _play(page: Page) -> None:
    page.get_by_role("button", name="Play Morning Light").click()
    page.wait_for_function("() => document.getElementById('audio').currentTime > 1.5", timeout=30_000)


def _menu(page: Page) -> list[str]:
    return page.locator("#quality option").all_inner_texts()


@ON_EVERY_BACKEND
def test_an_artist_signs_up_uploads_and_watches_the_track_become_ready(journey: Journey) -> None:
    studio = journey.sign_up("nova", "artist")
    expect(studio.get_by_role("heading", name="Studio: Nova")).to_be_visible()
    public = studio.get_by_role("link", name="See your public page").get_attribute("href")
    assert public is not None
    journey.artist_id = public.rsplit("/", 1)[-1]

    studio.get_by_label("Bio").fill("Songs for early trams.\nRecorded on tape in Lyon.")
    studio.get_by_label("Links (one http or https URL a line, up to 5)").fill("https://nova.example/")
    studio.get_by_role("button", name="Save your page").click()
    expect(studio.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

    studio.get_by_label("Title").fill("Morning Light")
    studio.get_by_label("Audio file").set_input_files(journey.audio)
    studio.get_by_role("button", name="Upload", exact=True).click()

    expect(studio.locator("#upload-progress")).to_have_attribute("value", "100")
    row = studio.locator("#tracks tbody tr").first
    expect(row.locator(".status")).to_have_text("ready", timeout=120_000)
    expect(row.locator(".rungs")).to_have_text("128 / 256 / 320")
    assert len(row.locator(".measured").inner_text().split(" / ")) == 3
    journey.track_id = str(row.get_attribute("data-track"))


@pytest.mark.parametrize("tier", ["free", "supporter", "superfan"])
@ON_EVERY_BACKEND
def test_each_fan_hears_exactly_the_rungs_of_their_tier(journey: Journey, tier: str) -> None:
    page = journey.sign_up(tier, "fan")
    page.goto(f"/artist/{journey.artist_id}")
    if tier != "free":
        page.locator(f"#tier-{tier}").get_by_role("link", name="Subscribe").click()
        expect(page.locator("#charge")).to_have_text("5.00 USD" if tier == "supporter" else "10.00 USD")
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator("#my-tier")).to_have_text(tier)

    _play(page)

    assert _menu(page) == RUNGS[tier]
    rungs = page.evaluate("() => window.mcPlayer.levels.map(u => u.split('?')[0].split('/').slice(-2)[0])")
    assert rungs == [label.split()[0] + "k" for label in RUNGS[tier][1:]]
    expect(page.locator("#bitrate")).to_contain_text("kbps")


@ON_EVERY_BACKEND
def test_a_free_fan_cannot_get_256k_by_any_means(journey: Journey) -> None:
    page = journey.pages["free"]
    statuses = page.evaluate(
        """async () => {
            const signed = window.mcPlayer.levels[0];
            const guessed = signed.replace('/128k/', '/256k/');
            const master = await (await fetch(location.origin + '/listen/' + window.mcPlayer.track)).text();
            return {
              guessed: (await fetch(guessed)).status,
              masterRungs: (master.match(/#EXT-X-STREAM-INF/g) || []).length,
              menu: [...document.querySelectorAll('#quality option')].map(o => o.textContent),
            };
        }"""
    )
    # Choosing a level the menu does not have changes nothing: hls.js only knows the master's.
    page.evaluate("() => { window.mcPlayer.hls.currentLevel = 1; }")
    levels = page.evaluate("() => window.mcPlayer.hls.levels.map(l => l.bitrate)")

    assert statuses == {"guessed": 403, "masterRungs": 1, "menu": ["auto", "128 kbps"]}
    assert len(levels) == 1


@ON_EVERY_BACKEND
def test_an_upgrade_grows_the_menu_while_the_track_plays_on_without_a_page_load(journey: Journey) -> None:
    page = journey.pages["free"]
    page.evaluate("() => { window.stillThisDocument = true; }")
    before = page.evaluate("() => document.getElementById('audio').currentTime")

    # By clicking, as a fan does: each click swaps the page's main part, the player stays.
    page.get_by_role("link", name="Discover", exact=True).click()
    page.get_by_role("link", name="Nova", exact=True).click()
    page.locator("#tier-supporter").get_by_role("link", name="Subscribe").click()
    expect(page.locator("#charge")).to_contain_text("USD")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#my-tier")).to_have_text("supporter")

    page.wait_for_function("() => document.querySelectorAll('#quality option').length === 3", timeout=20_000)
    page.wait_for_function(f"() => document.getElementById('audio').currentTime > {before}", timeout=20_000)
    assert page.evaluate("() => window.stillThisDocument") is True
    assert _menu(page) == RUNGS["supporter"]
    assert page.evaluate("() => document.getElementById('audio').paused") is False


@ON_EVERY_BACKEND
def test_the_dashboard_charts_the_plays(journey: Journey) -> None:
    page = journey.pages["nova"]
    page.get_by_role("link", name="Dashboard").click()

    page.wait_for_function("() => document.getElementById('plays-chart')?.chart !== undefined")
    plays = page.evaluate("() => document.getElementById('plays-chart').chart.data.datasets[0].data")

    assert sum(plays) >= 3  # one counted play per fan


@ON_EVERY_BACKEND
def test_a_supporter_asks_the_artist_answers_and_a_superfan_reads_the_reply_to_a_dm(journey: Journey) -> None:
    """One pass over the perk pages, by clicking: the artist opens a Q&A, a supporter asks, the
    artist answers and the supporter reads it; a superfan writes, the artist sees it unread in
    the inbox and replies, and the superfan reads the reply, all in one document (the player's)."""
    nova, supporter, superfan = journey.pages["nova"], journey.pages["supporter"], journey.pages["superfan"]
    nova.get_by_role("link", name="Q&A", exact=True).click()
    nova.get_by_label("Title").fill("May Q&A")
    nova.get_by_role("button", name="Open the Q&A").click()
    expect(nova.get_by_role("heading", name="May Q&A")).to_be_visible()

    supporter.get_by_role("link", name="Discover", exact=True).click()
    supporter.get_by_role("link", name="Nova", exact=True).click()
    supporter.get_by_role("link", name="Monthly Q&A").click()
    supporter.get_by_role("link", name="May Q&A").click()
    supporter.get_by_label("Your question (up to three this month)").fill("Which tram inspired the album?")
    supporter.get_by_role("button", name="Ask").click()
    expect(supporter.locator(".question")).to_have_text("Which tram inspired the album?")

    nova.reload()
    nova.get_by_label("Your answer").fill("The number 4, at dawn.")
    nova.get_by_role("button", name="Answer", exact=True).click()
    expect(nova.locator(".answer")).to_contain_text("The number 4, at dawn.")
    supporter.reload()
    expect(supporter.locator(".answer")).to_contain_text("The number 4, at dawn.")

    superfan.evaluate("() => { window.stillThisDocument = true; }")
    superfan.get_by_role("link", name="Discover", exact=True).click()
    superfan.get_by_role("link", name="Nova", exact=True).click()
    superfan.get_by_role("link", name="Messages").click()
    superfan.get_by_label("Your message (five a month)").fill("The tape hiss is perfect.")
    superfan.get_by_role("button", name="Send").click()
    expect(superfan.get_by_role("status").filter(has_text="Sent.")).to_be_visible()

    nova.get_by_role("link", name="Messages").click()
    expect(nova.get_by_text("1 unread")).to_be_visible()
    nova.get_by_role("link", name="Superfan").click()
    nova.get_by_label("Your reply").fill("Thank you! It is a 1982 Revox.")
    nova.get_by_role("button", name="Reply").click()
    expect(nova.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()

    superfan.get_by_role("link", name="Back to Nova").click()
    superfan.get_by_role("link", name="Messages").click()
    thread = superfan.locator(".thread li")
    expect(thread.first).to_contain_text("Thank you! It is a 1982 Revox.")
    expect(thread.nth(1)).to_contain_text("The tape hiss is perfect.")
    assert superfan.evaluate("() => window.stillThisDocument") is True


@ON_EVERY_BACKEND
def test_urls_that_expire_mid_track_are_renewed_and_the_track_plays_on(journey: Journey) -> None:
    page = journey.page(journey.context())
    page.goto("/signin")
    page.get_by_label("Email").fill("superfan@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"/artist/{journey.artist_id}")
    page.evaluate("() => { window.mcPlayer.ahead = 3; }")

    _play(page)
    page.wait_for_function(
        f"() => document.getElementById('audio').currentTime > {2 * URL_TTL_S}", timeout=60_000
    )

    assert page.evaluate("() => window.mcPlayer.reloads") >= 1
    errors: list[dict[str, Any]] = page.evaluate("() => window.mcPlayer.errors")
    assert any(e["code"] == "url_expired" for e in errors), errors


@ON_EVERY_BACKEND
def test_the_artist_posts_a_clip_backstage_and_a_superfan_plays_it_in_the_player(
    journey: Journey, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.wav"
    generate_demo_audio(clip, 6.0)
    studio = journey.pages["nova"]
    studio.goto(f"/artist/{journey.artist_id}/backstage")
    studio.get_by_label("What's happening backstage?").fill("A demo from tonight")
    studio.get_by_label("Audio clip", exact=False).set_input_files(clip)
    studio.get_by_role("button", name="Post for superfans").click()
    expect(studio.locator(".clip-status").first).to_have_text(re.compile("processing|ready"))

    fan = journey.pages["superfan"]
    for _ in range(60):  # the page shows the status it was rendered with: read it again
        fan.goto(f"/artist/{journey.artist_id}/backstage")
        if fan.locator(".clip-status").first.inner_text() != "processing":
            break
        fan.wait_for_timeout(1000)
    expect(fan.locator(".clip-status").first).to_have_text("ready")
    fan.get_by_role("button", name="Play the clip").first.click()

    fan.wait_for_function("() => document.getElementById('audio').currentTime > 1", timeout=30_000)
    expect(fan.locator("#now-playing")).to_have_text("Backstage clip · Nova")
    assert fan.evaluate("() => window.mcPlayer.src") is not None


@ON_EVERY_BACKEND
def test_no_console_errors_on_the_journey(journey: Journey) -> None:
    """The expired-URL page logs its expected 403s; every other page of the journey is clean."""
    unexpected = [e for e in journey.console_errors if "403" not in e]
    assert unexpected == []


class _Attacker(BaseHTTPRequestHandler):
    """Another origin's page: a form that would move the visitor to superfan, posted on load."""

    target = ""

    def do_GET(self) -> None:
        body = (
            f'<form id="f" method="post" action="{self.target}"><input name="tier" value="superfan"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@ONCE
def test_a_form_posted_from_another_origin_is_refused(journey: Journey) -> None:
    page = journey.pages["supporter"]
    _Attacker.target = f"{journey.base}/artist/{journey.artist_id}/join"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with page.expect_response(lambda r: r.url == _Attacker.target) as answer:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert answer.value.status == 403
    finally:
        server.shutdown()
        server.server_close()
    page.goto(f"{journey.base}/artist/{journey.artist_id}")
    expect(page.locator("#my-tier")).to_have_text("supporter")


MAIN_PAGES: Final = {
    "discover": ("supporter", "/"),
    "artist": ("supporter", "/artist/{artist}"),
    "studio": ("nova", "/studio"),
    "dashboard": ("nova", "/studio/dashboard"),
    "payouts": ("nova", "/studio/payouts"),
    "library": ("supporter", "/library"),
    "qa": ("supporter", "/artist/{artist}/qa"),
    "messages": ("superfan", "/artist/{artist}/messages"),
    "inbox": ("nova", "/studio/messages"),
    "notifications": ("supporter", "/account/notifications"),
    "live": ("superfan", "/artist/{artist}/live"),
    "studio-live": ("nova", "/studio/live"),
    "signin": (None, "/signin"),
}


def _signed_in_context(journey: Journey, who: str | None, **options: Any) -> BrowserContext:
    context = journey.context(**options)
    if who is not None:
        # The person's signed-in session, in a context of its own (another size, or no CSP).
        context.add_cookies(journey.pages[who].context.cookies())  # type: ignore[arg-type]
    return context


@ONCE
def test_the_main_pages_have_no_critical_accessibility_violations(journey: Journey) -> None:
    found: dict[str, list[str]] = {}
    for name, (who, path) in MAIN_PAGES.items():
        # axe is injected as an inline script, which the pages' CSP would refuse.
        context = _signed_in_context(journey, who, bypass_csp=True)
        page = context.new_page()
        page.goto(path.format(artist=journey.artist_id))
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate("async () => (await axe.run()).violations")
        found[name] = [v["id"] for v in violations if v["impact"] == "critical"]
        context.close()
    assert found == {name: [] for name in MAIN_PAGES}


@ONCE
def test_screenshots_of_the_main_pages_at_desktop_and_phone_width(journey: Journey) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for name, (who, path) in MAIN_PAGES.items():
            context = _signed_in_context(journey, who, viewport=viewport)
            page = context.new_page()
            page.goto(path.format(artist=journey.artist_id))
            if name == "artist":
                _play(page)  # the player bar, playing
            if name == "dashboard":
                page.wait_for_function("() => document.getElementById('plays-chart')?.chart !== undefined")
            page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
            scroll = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            context.close()
            assert scroll <= 0, f"{name} scrolls sideways at {width} width"
    assert len(list(SHOTS.glob("*.png"))) >= 2 * len(MAIN_PAGES)
