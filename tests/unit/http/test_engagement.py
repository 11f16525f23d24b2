"""Follows, likes, plays, and superfans' direct messages with their monthly quota."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.unit.http.conftest import Api, assert_error


def test_a_fan_follows_an_artist(api: Api) -> None:
    """204, counted once however often it is repeated."""
    artist, fan = api.artist(), api.fan()
    for _ in range(2):
        response = api.client.post(f"/artists/{artist.id}/follow", headers=fan.headers)
        assert response.status_code == 204
        assert response.content == b""
    funnel = api.client.get(f"/artists/{artist.id}/dashboard", headers=artist.headers).json()[
        "conversion_funnel"
    ]
    assert funnel["followers"] == 1


def test_following_needs_a_fan_and_an_artist(api: Api) -> None:
    """An artist following is 403, an unknown artist 404, no token 401."""
    artist = api.artist()
    assert_error(api.client.post(f"/artists/{artist.id}/follow", headers=api.artist().headers), 403)
    assert_error(api.client.post("/artists/nobody/follow", headers=api.fan().headers), 404)
    assert_error(api.client.post(f"/artists/{artist.id}/follow"), 401)


def test_a_fan_likes_a_track(api: Api) -> None:
    """204 for a visible track; 404 for a hidden or unknown one."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    exclusive = api.ready_track(artist, exclusive="true")
    fan = api.fan()
    assert api.client.post(f"/tracks/{track_id}/like", headers=fan.headers).status_code == 204
    assert_error(api.client.post(f"/tracks/{exclusive}/like", headers=fan.headers), 404)
    assert_error(api.client.post("/tracks/nothing/like", headers=fan.headers), 404)
    assert_error(api.client.post(f"/tracks/{track_id}/like", headers=artist.headers), 403)


def test_plays_are_accepted_and_counted_per_day(api: Api) -> None:
    """202 per play; the dashboard shows them on today's date and ranks the fans."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    keen, casual = api.fan(), api.fan()
    for fan, plays in ((keen, 3), (casual, 1)):
        for _ in range(plays):
            assert api.client.post(f"/tracks/{track_id}/plays", headers=fan.headers).status_code == 202
            api.clock.advance(seconds=30)  # a play counts once per 30 s
    dashboard = api.client.get(f"/artists/{artist.id}/dashboard", headers=artist.headers).json()
    assert dashboard["plays_30d"][api.clock.now().date().isoformat()] == 4
    assert dashboard["unique_listeners_30d"] == 2
    assert [(f["fan_id"], f["plays"]) for f in dashboard["top_fans"]["by_plays"]] == [
        (keen.id, 3),
        (casual.id, 1),
    ]


def test_playing_needs_a_fan_and_a_visible_track(api: Api) -> None:
    """Artists 403, unknown tracks 404, anonymous 401."""
    artist = api.artist()
    track_id = api.ready_track(artist)
    assert_error(api.client.post(f"/tracks/{track_id}/plays", headers=artist.headers), 403)
    assert_error(api.client.post("/tracks/nothing/plays", headers=api.fan().headers), 404)
    assert_error(api.client.post(f"/tracks/{track_id}/plays"), 401)


def test_a_superfan_sends_five_messages_a_month_and_the_sixth_is_429(api: Api) -> None:
    """Five 201s with id and sent_at, then 429 quota_exceeded until the next calendar month."""
    artist = api.artist()
    fan = api.fan_on(artist, "superfan")
    url = f"/artists/{artist.id}/messages"
    for number in range(5):
        response = api.client.post(url, json={"body": f"hello {number}"}, headers=fan.headers)
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"id", "sent_at"}
    assert_error(api.client.post(url, json={"body": "one more"}, headers=fan.headers), 429, "quota_exceeded")
    api.clock.set(datetime(2025, 4, 1, 0, 0, tzinfo=UTC))
    fan = api.login(fan)
    assert api.client.post(url, json={"body": "new month"}, headers=fan.headers).status_code == 201


def test_below_superfan_messages_are_403(api: Api) -> None:
    """Free fans and supporters may not message; neither may artists."""
    artist = api.artist()
    url = f"/artists/{artist.id}/messages"
    for user in (api.fan_on(artist, "free"), api.fan_on(artist, "supporter"), api.artist()):
        assert_error(api.client.post(url, json={"body": "hi"}, headers=user.headers), 403, "forbidden")


def test_an_empty_message_is_422(api: Api) -> None:
    """A message needs a body, and it does not use up the quota."""
    artist = api.artist()
    fan = api.fan_on(artist, "superfan")
    url = f"/artists/{artist.id}/messages"
    assert_error(api.client.post(url, json={"body": "   "}, headers=fan.headers), 422, "invalid_input")
    assert_error(api.client.post(url, json={}, headers=fan.headers), 422, "invalid_input")
    for _ in range(5):
        assert api.client.post(url, json={"body": "hi"}, headers=fan.headers).status_code == 201


def test_a_dm_thread_with_replies_reads_the_same_from_both_sides(api: Api) -> None:
    """The fan writes, the artist sees an unread conversation, replies; both read one thread."""
    artist = api.artist()
    fan = api.fan_on(artist, "superfan")
    sent = api.client.post(
        f"/artists/{artist.id}/messages",
        json={"body": "Any plans for a vinyl press? 💿"},
        headers=fan.headers,
    )
    assert sent.status_code == 201, sent.text

    inbox = api.client.get(f"/artists/{artist.id}/conversations", headers=artist.headers)
    assert inbox.status_code == 200, inbox.text
    assert [(c["fan_id"], c["messages"], c["unread"]) for c in inbox.json()] == [(fan.id, 1, 1)]

    api.clock.advance(minutes=3)
    reply = api.client.post(
        f"/artists/{artist.id}/conversations/{fan.id}/replies",
        json={"body": "Yes, in the autumn!"},
        headers=artist.headers,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["from_artist"] is True

    from_artist = api.client.get(
        f"/artists/{artist.id}/conversations/{fan.id}", headers=artist.headers
    ).json()
    from_fan = api.client.get(f"/me/conversations/{artist.id}", headers=fan.headers).json()
    assert [(m["from_artist"], m["body"]) for m in from_fan] == [
        (True, "Yes, in the autumn!"),
        (False, "Any plans for a vinyl press? 💿"),
    ]
    assert [m["id"] for m in from_fan] == [m["id"] for m in from_artist]
    assert (
        api.client.get(f"/artists/{artist.id}/conversations", headers=artist.headers).json()[0]["unread"] == 0
    )


def test_conversation_routes_refuse_the_wrong_people_and_bad_text(api: Api) -> None:
    """Another artist 403, a fan on the artist routes 403, no conversation 404, control characters 422."""
    artist, other = api.artist(), api.artist()
    fan = api.fan_on(artist, "superfan")
    api.client.post(f"/artists/{artist.id}/messages", json={"body": "hello"}, headers=fan.headers)
    replies = f"/artists/{artist.id}/conversations/{fan.id}/replies"
    assert_error(api.client.post(replies, json={"body": "x"}, headers=other.headers), 403)
    assert_error(api.client.get(f"/artists/{artist.id}/conversations", headers=fan.headers), 403)
    assert_error(
        api.client.post(
            f"/artists/{artist.id}/conversations/nobody/replies", json={"body": "x"}, headers=artist.headers
        ),
        404,
    )
    assert_error(api.client.post(replies, json={"body": "<b>hi</b>\x1b[31m"}, headers=artist.headers), 422)
    assert_error(api.client.post(replies, json={"nope": 1}, headers=artist.headers), 422)


def test_a_fans_library_undoes_and_lists_follows_and_likes(api: Api) -> None:
    """DELETE undoes (idempotently, 204); /me/following and /me/likes list the latest first;
    the artist's and track's views carry the counts."""
    artist, other = api.artist(), api.artist()
    first, second = api.ready_track(artist, title="Nuits blanches"), api.ready_track(artist, title="Été")
    fan, friend = api.fan(), api.fan()
    for who in (fan, friend):
        assert api.client.post(f"/artists/{artist.id}/follow", headers=who.headers).status_code == 204
    api.clock.advance(minutes=1)
    assert api.client.post(f"/artists/{other.id}/follow", headers=fan.headers).status_code == 204
    for track_id in (first, second):
        api.clock.advance(seconds=10)
        assert api.client.post(f"/tracks/{track_id}/like", headers=fan.headers).status_code == 204
    assert api.client.post(f"/tracks/{first}/like", headers=friend.headers).status_code == 204

    following = api.client.get("/me/following", headers=fan.headers).json()
    assert [f["artist_id"] for f in following] == [other.id, artist.id]
    likes = api.client.get("/me/likes", headers=fan.headers).json()
    assert [(liked["track"]["id"], liked["track"]["title"]) for liked in likes] == [
        (second, "Été"),
        (first, "Nuits blanches"),
    ]
    assert api.client.get(f"/artists/{artist.id}").json()["followers"] == 2
    assert api.client.get(f"/tracks/{first}").json()["likes"] == 2

    for _ in range(2):
        assert api.client.delete(f"/artists/{artist.id}/follow", headers=fan.headers).status_code == 204
        assert api.client.delete(f"/tracks/{first}/like", headers=fan.headers).status_code == 204
    assert [f["artist_id"] for f in api.client.get("/me/following", headers=fan.headers).json()] == [other.id]
    assert [x["track"]["id"] for x in api.client.get("/me/likes", headers=fan.headers).json()] == [second]
    assert api.client.get(f"/artists/{artist.id}").json()["followers"] == 1
    assert api.client.get(f"/tracks/{first}").json()["likes"] == 1
    assert_error(api.client.delete("/artists/nobody/follow", headers=fan.headers), 404)
    assert_error(api.client.get("/me/following", headers=artist.headers), 403)
    assert_error(api.client.get("/me/likes"), 401)


def test_history_lists_recent_plays_one_row_per_track(api: Api) -> None:
    """GET /me/history: the latest played first, with how often each was played."""
    artist = api.artist()
    first, second = api.ready_track(artist, title="Nuits blanches"), api.ready_track(artist, title="Été")
    fan = api.fan()
    for track_id in (first, second, first):
        assert api.client.post(f"/tracks/{track_id}/plays", headers=fan.headers).status_code == 202
        api.clock.advance(minutes=1)
    history = api.client.get("/me/history", headers=fan.headers)
    assert history.status_code == 200, history.text
    assert [(h["track"]["title"], h["plays"]) for h in history.json()] == [("Nuits blanches", 2), ("Été", 1)]
    assert api.client.get("/me/history", headers=api.fan().headers).json() == []
    assert_error(api.client.get("/me/history", headers=artist.headers), 403)
