"""The perk pages over in-memory adapters: Q&A, direct messages, live sessions, notifications and
the library, driven through plain forms (no script) as a browser without JavaScript would."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import TestClient

from tests.unit.http.conftest import Api, User
from tests.unit.http.test_web_pages import csrf_of, sign_in


def _post(
    client: TestClient[Litestar], path: str, data: dict[str, str] | None = None, *, page: str = "/"
) -> str:
    """Post a form from ``page`` (with its CSRF token) and follow the redirect: the page shown after."""
    token = csrf_of(client, page)
    answer = client.post(path, data={**(data or {}), "_csrf_token": token})
    assert answer.status_code == 200, answer.text
    return answer.text


def _as(api: Api, user: User) -> TestClient[Litestar]:
    api.client.cookies.clear()
    sign_in(api.client, user)
    return api.client


def _open_qa(api: Api, artist: User, title: str = "Ask me anything") -> str:
    client = _as(api, artist)
    token = csrf_of(client, f"/artist/{artist.id}/qa")
    opened = client.post("/studio/qa", data={"title": title, "description": "", "_csrf_token": token})
    assert opened.status_code == 200, opened.text
    found = re.search(rf'action="/artist/{artist.id}/qa/([^/"]+)/close"', opened.text)
    assert found is not None, opened.text
    return found.group(1)


def test_a_supporter_asks_the_artist_answers_and_supporters_read_the_answer(api: Api) -> None:
    artist = api.artist()
    supporter, superfan = api.fan_on(artist, "supporter"), api.fan_on(artist, "superfan")
    qa_id = _open_qa(api, artist)

    client = _as(api, supporter)
    listed = client.get(f"/artist/{artist.id}/qa")
    asked = _post(
        client, f"/artist/{artist.id}/qa/{qa_id}/questions", {"body": "What is the next single?\r\nAnd when?"}
    )
    question_id = re.search(r'id="q-([^"]+)"', asked)
    assert question_id is not None
    client = _as(api, superfan)
    upvoted = _post(client, f"/artist/{artist.id}/qa/{qa_id}/questions/{question_id.group(1)}/upvote")
    client = _as(api, artist)
    answered = _post(
        client,
        f"/artist/{artist.id}/qa/{qa_id}/questions/{question_id.group(1)}/answer",
        {"answer": "“Night Drive”, in May."},
        page=f"/artist/{artist.id}/qa/{qa_id}",
    )
    read_by_supporter = _as(api, supporter).get(f"/artist/{artist.id}/qa/{qa_id}").text

    assert "Ask me anything" in listed.text
    assert "What is the next single?\nAnd when?" in asked
    assert "1 vote" in upvoted
    assert "“Night Drive”, in May." in answered
    assert "“Night Drive”, in May." in read_by_supporter
    assert "Hide" not in read_by_supporter


def test_a_free_fan_is_told_which_tier_grants_the_qa_with_a_link_to_join_it(api: Api) -> None:
    artist = api.artist()
    qa_id = _open_qa(api, artist)
    client = _as(api, api.fan())

    listed = client.get(f"/artist/{artist.id}/qa")
    direct = client.get(f"/artist/{artist.id}/qa/{qa_id}")
    token = csrf_of(client, "/")
    asked = client.post(
        f"/artist/{artist.id}/qa/{qa_id}/questions", data={"body": "Let me in?", "_csrf_token": token}
    )

    assert listed.status_code == 403
    assert listed.headers["content-type"].startswith("text/html")
    assert "The monthly Q&amp;A is a perk for supporters and superfans" in listed.text
    assert f'href="/artist/{artist.id}/join?tier=supporter"' in listed.text
    assert "Sign out" in listed.text
    assert (direct.status_code, asked.status_code) == (403, 403)
    assert "supporter" in direct.text


def test_the_artist_hides_a_question_and_closes_the_qa(api: Api) -> None:
    artist = api.artist()
    supporter = api.fan_on(artist, "supporter")
    qa_id = _open_qa(api, artist)
    asked = _post(_as(api, supporter), f"/artist/{artist.id}/qa/{qa_id}/questions", {"body": "Rude question"})
    question_id = re.search(r'id="q-([^"]+)"', asked)
    assert question_id is not None

    client = _as(api, artist)
    hidden = _post(
        client,
        f"/artist/{artist.id}/qa/{qa_id}/questions/{question_id.group(1)}/hide",
        {"hidden": "1"},
        page=f"/artist/{artist.id}/qa/{qa_id}",
    )
    closed = _post(client, f"/artist/{artist.id}/qa/{qa_id}/close", page=f"/artist/{artist.id}/qa/{qa_id}")
    seen_by_supporter = _as(api, supporter).get(f"/artist/{artist.id}/qa/{qa_id}").text

    assert "hidden from fans" in hidden
    assert "closed" in closed
    assert "Rude question" not in seen_by_supporter
    assert 'name="body"' not in seen_by_supporter  # no asking once closed


def test_a_superfan_writes_the_artist_reads_the_unread_count_and_replies(api: Api) -> None:
    artist = api.register("artist", name="Nova")
    superfan = api.register("fan", name="Ada Superfan")
    assert api.subscribe(superfan, artist, "superfan").status_code == 201

    sent = _post(_as(api, superfan), f"/artist/{artist.id}/messages", {"body": "Loved the show!"})
    client = _as(api, artist)
    inbox = client.get("/studio/messages").text
    thread = client.get(f"/studio/messages/{superfan.id}").text
    inbox_after_reading = client.get("/studio/messages").text
    replied = _post(client, f"/studio/messages/{superfan.id}", {"body": "Thank you, Ada!"})
    fan_view = _as(api, superfan).get(f"/artist/{artist.id}/messages").text

    assert "Loved the show!" in sent
    assert "Ada Superfan" in inbox
    assert "1 unread" in inbox
    assert "Loved the show!" in thread
    assert "unread</strong>" not in inbox_after_reading
    assert "Thank you, Ada!" in replied
    assert fan_view.index("Thank you, Ada!") < fan_view.index("Loved the show!")  # newest first


def test_a_supporter_cannot_write_and_is_pointed_to_the_superfan_tier(api: Api) -> None:
    artist = api.artist()
    client = _as(api, api.fan_on(artist, "supporter"))

    page = client.get(f"/artist/{artist.id}/messages")
    token = csrf_of(client, "/")
    refused = client.post(f"/artist/{artist.id}/messages", data={"body": "Hi", "_csrf_token": token})

    assert page.status_code == 200
    assert 'name="body"' not in page.text
    assert refused.status_code == 403
    assert "Direct messages is a perk for superfans" in refused.text
    assert f"/artist/{artist.id}/join?tier=superfan" in refused.text


def test_the_artist_schedules_a_live_session_and_sees_the_rtmp_url_and_stream_key(api: Api) -> None:
    artist = api.artist()
    superfan, free = api.fan_on(artist, "superfan"), api.fan()
    client = _as(api, artist)

    scheduled = _post(client, "/studio/live", {"title": "Studio hang", "starts_at": "2025-06-02T20:00"})
    listed = client.get("/studio/live").text
    seen_by_superfan = _as(api, superfan).get(f"/artist/{artist.id}/live").text
    seen_by_free_fan = _as(api, free).get(f"/artist/{artist.id}/live").text

    assert re.search(r'<code id="ingest-url">rtmp://[^<]+</code>', scheduled)
    key = re.search(r'<code id="stream-key">([^<]+)</code>', scheduled)
    assert key is not None
    assert key.group(1) not in listed  # shown once
    assert "Studio hang" in listed
    assert "2025-06-02 20:00" in seen_by_superfan
    assert "superfan perk" not in seen_by_superfan
    assert "Listening live is a superfan perk" in seen_by_free_fan


def test_notifications_are_listed_marked_read_and_email_kinds_chosen(api: Api) -> None:
    artist = api.artist()
    supporter = api.fan_on(artist, "supporter")
    _open_qa(api, artist, title="June Q&A")
    client = _as(api, supporter)

    feed = client.get("/account/notifications").text
    marked = _post(client, "/account/notifications/read", page="/account/notifications")
    saved = _post(
        client,
        "/account/notifications/email",
        {"email_qa_answered": "on", "email_dm_reply": "on"},
        page="/account/notifications",
    )

    assert "<strong>New:</strong>" in feed
    assert f'href="/artist/{artist.id}/qa"' in feed
    assert "<strong>New:</strong>" not in marked
    assert 'id="email-qa_answered" name="email_qa_answered" checked' in saved
    assert 'id="email-dm_reply" name="email_dm_reply" checked' in saved
    assert 'id="email-qa_opened" name="email_qa_opened" checked' not in saved


def test_follow_like_and_their_undo_show_in_the_library(api: Api) -> None:
    artist = api.register("artist", name="Cables")
    track_id = api.ready_track(artist, title="Wires")
    fan = api.fan()
    client = _as(api, fan)
    page = f"/artist/{artist.id}"

    followed = _post(client, f"/artist/{artist.id}/follow", {"follow": "1"}, page=page)
    liked = _post(client, f"/track/{track_id}/like", {"like": "1"}, page=page)
    library = client.get("/library").text
    unfollowed = _post(
        client, f"/artist/{artist.id}/follow", {"follow": "0", "back": "/library"}, page="/library"
    )
    _post(client, f"/track/{track_id}/like", {"like": "0"}, page=page)
    emptied = client.get("/library").text

    assert "Following · unfollow" in followed
    assert "Liked · unlike" in liked
    assert "Cables" in library
    assert "Wires" in library
    assert "You follow nobody yet" in unfollowed
    assert "No likes yet" in emptied


def test_the_players_live_master_is_for_superfans_and_answers_the_script_in_json(api: Api) -> None:
    """The player asks /listen/live/{id}: a free fan is refused, a superfan learns the session is
    not live yet, both in the API's JSON the player reads."""
    artist = api.artist()
    superfan, free = api.fan_on(artist, "superfan"), api.fan()
    scheduled = _post(_as(api, artist), "/studio/live", {"title": "Later", "starts_at": "2025-06-02T20:00"})
    key = re.search(r'<code id="stream-key">([^.<]+)\.', scheduled)
    assert key is not None
    session_id = key.group(1)

    refused = _as(api, free).get(f"/listen/live/{session_id}")
    waiting = _as(api, superfan).get(f"/listen/live/{session_id}")

    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert (waiting.status_code, waiting.json()["error"]) == (409, "conflict")
