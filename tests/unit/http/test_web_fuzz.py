"""No input ever makes a web page answer 5xx, and a form without a good CSRF token is refused (403).

Every web route is taken from the app's own route table (a new page is fuzzed without being listed
here), for a visitor signed out, a fan and an artist: GET with random query strings, POST with random
form fields (missing, extra, empty, ~1 MB, unicode, control characters, wrong types), urlencoded or
multipart with or without file parts, with a good, missing or forged CSRF token, and random path ids.
The same again with a browser session whose artist's account was erased, or whose artist row is gone.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeAlias
from urllib.parse import quote, urlencode

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.stores.file import FileStore
from litestar.testing import TestClient

import musicconnect.entrypoints.web as web_package
from musicconnect.adapters.memory import InMemoryStore
from musicconnect.entrypoints.web.session import SESSION_STORE
from tests.unit.http.conftest import PASSWORD, Api, User
from tests.unit.http.fakes import fake_audio
from tests.unit.http.test_web_pages import csrf_of, sign_in

#: Every field name a page's form sends, read from the templates (a new form's fields are fuzzed too).
_TEMPLATES: Final = Path(web_package.__file__).parent / "templates"
FIELD_NAMES: Final = sorted(
    {name for t in _TEMPLATES.glob("*.html") for name in re.findall(r'name="([a-z_]+)"', t.read_text())}
    - {"viewport"}
)
#: A few attempts per route and visitor: every route is tried by each (about 1,500 requests, ~30 s).
_PER_ROUTE: Final = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@attrs.frozen
class WebRoute:
    path: str  # with {name:type} placeholders
    method: str
    checks_csrf_itself: bool  # the route streams its body and checks the token after the sign-in

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"{(\w+):\w+}", self.path)


def web_routes(app: Litestar) -> list[WebRoute]:
    """The web package's routes in the app's route table (the API's are fuzzed by schemathesis)."""
    return [
        WebRoute(route.path, method, bool(handler.opt.get("exclude_from_csrf")))
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if _in_web_package(handler.fn)
        for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"})
    ]


def _in_web_package(fn: Any) -> bool:
    function = getattr(fn, "func", fn)  # a handler run in a thread is wrapped
    return str(function.__module__).startswith(web_package.__name__)


@attrs.frozen
class Scene:
    """Who visits, and the ids a path may carry that name something real."""

    artist: User
    fan: User
    ids: tuple[str, ...]

    @classmethod
    def set(cls, api: Api) -> Scene:
        artist = api.artist()
        fan = api.fan_on(artist, "superfan")
        track_id = api.ready_track(artist)
        return cls(artist, fan, (artist.id, fan.id, track_id, "supporter", "superfan", "free"))

    def persona(self, name: str) -> User | None:
        return {"fan": self.fan, "artist": self.artist}.get(name)


#: Takes the signed-in artist away while their browser session stays.
Mishap: TypeAlias = Callable[[Api, InMemoryStore, User], None]
PERSONAS: Final = ("signed out", "fan", "artist")
_PNG_HEAD: Final = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
_TRICKY: Final = (
    "",
    " ",
    "0",
    "-1",
    "1e309",
    "NaN",
    "99999999999999999999999",
    "true",
    "[]",
    "{}",
    "null",
    "2025-13-45T99:99",
    "2025-03-10T12:00",
    "9999-12-31T23:59",
    "USD",
    "on",
    "unblock",
    "block",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "\x00",
    "\r\n",
    "\u202e\u0000\ufeff",
    "🎸" * 50,
)
_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
_huge = st.sampled_from(["x", "é", "\x00", "🎸"]).map(lambda c: c * (1_000_000 // len(c.encode())))
_name = st.one_of(st.sampled_from(FIELD_NAMES), _text)
_value = st.one_of(_text, st.sampled_from(_TRICKY), st.integers().map(str))
_fields = st.lists(st.tuples(_name, _value), max_size=8)
_files = st.lists(
    st.tuples(
        st.sampled_from(["file", "image", "clip", "other"]),
        _text,  # the file name, maybe empty (a file input left empty)
        st.one_of(st.binary(max_size=64), st.just(b""), st.builds(fake_audio), st.just(_PNG_HEAD)),
    ),
    max_size=3,
)


@attrs.frozen
class Attempt:
    path_ids: tuple[str, ...]
    query: list[tuple[str, str]]
    fields: list[tuple[str, str]]
    huge: str | None
    encoding: str  # "urlencoded", "multipart", "raw"
    files: list[tuple[str, str, bytes]]
    csrf: str  # "field", "header", "missing", "forged"


def attempts(scene: Scene) -> st.SearchStrategy[Attempt]:
    # Any text but a slash, which the router reads as a segment even when escaped, and "." or "..",
    # which the URL drops as dot segments (either way another route, or none: not this one).
    path_id = st.one_of(
        st.sampled_from(scene.ids),
        _text.map(lambda t: t.replace("/", "")).filter(lambda t: t.strip(".") != ""),
    )
    return st.builds(
        Attempt,
        path_ids=st.lists(path_id, min_size=3, max_size=3).map(tuple),
        query=_fields,
        fields=_fields,
        huge=st.one_of(st.none(), st.none(), st.none(), _huge),
        encoding=st.sampled_from(["urlencoded", "multipart", "raw"]),
        files=_files,
        csrf=st.sampled_from(["field", "field", "header", "missing", "forged"]),
    )


def _encoded(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart body built by hand: httpx would refuse some names and values a browser can send."""
    boundary = secrets.token_hex(12)
    parts = []
    for name, value in fields:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
        parts.append(head.encode() + value.encode())
    for name, filename, content in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{_quoted(filename)}"'
        )
        parts.append(head.encode() + b"\r\nContent-Type: application/octet-stream\r\n\r\n" + content)
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def send(client: TestClient[Litestar], route: WebRoute, attempt: Attempt) -> httpx.Response:
    path = route.path
    for name, value in zip(route.parameters, attempt.path_ids, strict=False):
        path = re.sub(rf"{{{name}:\w+}}", quote(value, safe=""), path)
    if route.method == "GET":
        return client.get(f"{path}?{urlencode(attempt.query)}", follow_redirects=False)
    token = csrf_of(client)  # also sets the CSRF cookie
    fields = list(attempt.fields)
    if attempt.huge is not None:
        fields.append(("body", attempt.huge))
    headers = {}
    if attempt.csrf == "field":
        fields.append(("_csrf_token", token))
    elif attempt.csrf == "header":
        headers["X-CSRFToken"] = token
    elif attempt.csrf == "forged":
        fields.append(("_csrf_token", token[:-4] + "abcd"))
    if attempt.encoding == "urlencoded":
        return client.post(path, data=dict(fields), headers=headers, follow_redirects=False)
    if attempt.encoding == "multipart":
        body, content_type = _encoded(fields, attempt.files)
    else:  # a body that says it is a form and is not one
        body = b"\x00\xff--garbage" + b"".join(content for _, _, content in attempt.files)
        content_type = "multipart/form-data"
    return client.post(
        path, content=body, headers=headers | {"Content-Type": content_type}, follow_redirects=False
    )


def _refused_csrf(route: WebRoute, attempt: Attempt) -> bool:
    """A form without a good token. (A body that is no form at all, multipart without a boundary, is
    refused as malformed before its token can be looked for: still a 4xx.)"""
    return route.method == "POST" and attempt.csrf in {"missing", "forged"} and attempt.encoding != "raw"


def _undecodable(attempt: Attempt) -> bool:
    """A multipart part with bytes that are not UTF-8, which the parser reads as text when it sees
    no file name in the part's header (what it counts as one is its own business)."""
    return attempt.encoding == "multipart" and not all(_utf8(data) for _, _, data in attempt.files)


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def fuzz(
    client: TestClient[Litestar], scene: Scene, route: WebRoute, who: str, enter: Callable[[], None]
) -> None:
    """Random attempts at ``route``, each made after ``enter`` (which sets who is visiting)."""

    @_PER_ROUTE
    @given(attempt=attempts(scene))
    def never_5xx(attempt: Attempt) -> None:
        enter()
        note(f"{route} as {who}: {repr(attempt)[:3000]}")
        answer = send(client, route, attempt)

        assert answer.status_code < 500, (route, who, answer.text[:2000])
        if _refused_csrf(route, attempt):
            signed_out_first = route.checks_csrf_itself and answer.is_redirect  # sign in, then the token
            # A body over the size limit is refused unread: its token is never looked for.
            too_large = attempt.huge is not None and answer.status_code == 413
            # A field that is not text makes the form unreadable (400) before its token is found.
            unreadable = _undecodable(attempt) and answer.status_code == 400
            refused = answer.status_code == 403 or signed_out_first or too_large or unreadable
            assert refused, (route, who, answer.text[:2000])

    never_5xx()


def signed_in_as(client: TestClient[Litestar], user: User | None) -> Callable[[], None]:
    """A fresh browser, signed in as ``user`` (or not at all)."""

    def enter() -> None:
        client.cookies.clear()
        if user is not None:
            assert sign_in(client, user).status_code == 303

    return enter


@attrs.frozen
class SessionSnapshot:
    """A browser's cookies and the server's session files as they were: restored before each attempt,
    the session still names the account that is gone (the first page that reads it ends it)."""

    cookies: dict[str, str]
    files: dict[Path, bytes]

    @classmethod
    def take(cls, client: TestClient[Litestar], folder: Path, before: set[Path]) -> SessionSnapshot:
        """The cookies, and the session files written since ``before`` was listed."""
        files = {path: path.read_bytes() for path in set(folder.iterdir()) - before}
        assert files, "no session was stored"
        return cls(dict(client.cookies), files)

    def restore(self, client: TestClient[Litestar]) -> None:
        client.cookies.clear()
        client.cookies.update(self.cookies)
        for path, content in self.files.items():
            path.write_bytes(content)


@pytest.fixture
def routes(app: Litestar) -> list[WebRoute]:
    found = web_routes(app)
    assert len(found) > 40, found  # the table was read, not an empty list fuzzed
    return found


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_web_route_answers_5xx_to_any_input(api: Api, routes: list[WebRoute], persona: str) -> None:
    scene = Scene.set(api)
    for route in routes:
        fuzz(api.client, scene, route, persona, signed_in_as(api.client, scene.persona(persona)))


def _erase(api: Api, store: InMemoryStore, artist: User) -> None:
    erased = api.client.request("DELETE", "/me", json={"password": PASSWORD}, headers=artist.headers)
    assert erased.status_code == 204, erased.text


def _drop_artist_row(api: Api, store: InMemoryStore, artist: User) -> None:
    """The account stays and its artist profile is gone: what a half-finished erasure by another
    process, or a repair by hand, can leave for a moment."""
    store.apply(lambda state: state.artists.discard(artist.id))
    assert api.client.get(f"/artist/{artist.id}").status_code == 404


@pytest.mark.parametrize(
    ("mishap", "studio_status"),
    [(_erase, 303), (_drop_artist_row, 404)],  # signed out to the sign-in page; a page that says so
    ids=["account erased", "artist row missing"],
)
def test_no_web_route_answers_5xx_when_the_signed_in_artist_goes_mid_session(
    *,
    api: Api,
    app: Litestar,
    routes: list[WebRoute],
    store: InMemoryStore,
    mishap: Mishap,
    studio_status: int,
) -> None:
    scene = Scene.set(api)
    sessions = app.stores.get(SESSION_STORE)
    assert isinstance(sessions, FileStore)  # as the app keeps them without Redis
    folder = Path(sessions.path)
    before = set(folder.iterdir()) if folder.exists() else set()
    assert sign_in(api.client, scene.artist).status_code == 303
    csrf_of(api.client)  # the CSRF cookie, kept with the session
    snapshot = SessionSnapshot.take(api.client, folder, before)

    mishap(api, store, scene.artist)

    snapshot.restore(api.client)
    assert api.client.get("/studio", follow_redirects=False).status_code == studio_status
    for route in routes:
        fuzz(api.client, scene, route, mishap.__name__, lambda: snapshot.restore(api.client))


def test_a_form_field_that_is_not_text_is_a_400_page_not_a_500(api: Api) -> None:
    """Found by the fuzz: a multipart part without a file name is read as UTF-8 text."""
    body, content_type = _encoded([("_csrf_token", csrf_of(api.client))], [("email", "", _PNG_HEAD)])

    answer = api.client.post("/reset-password", content=body, headers={"Content-Type": content_type})

    assert answer.status_code == 400, answer.text
    assert "not UTF-8 text" in answer.text


def test_a_studio_upload_that_is_no_form_and_has_no_token_is_refused_as_csrf(api: Api) -> None:
    """Found by the fuzz: the studio's upload answered 422 with the studio page, not 403."""
    artist = api.artist()
    sign_in(api.client, artist)
    csrf_of(api.client)

    answer = api.client.post("/studio/tracks", data={"title": "no file, no token"}, follow_redirects=False)

    assert answer.status_code == 403, answer.text
