"""The notification feed: fanned out on the job queue, once per fan, by entitlement."""

from __future__ import annotations

from musicconnect.bootstrap import notifications_of
from musicconnect.domain.notifications import NotificationKind
from tests.unit.http.conftest import Api, assert_error


def _feed(api: Api, headers: dict[str, str]) -> list[tuple[str, bool]]:
    response = api.client.get("/me/notifications", headers=headers)
    assert response.status_code == 200, response.text
    return [(n["kind"], n["read"]) for n in response.json()]


def test_a_release_opening_to_a_follower_notifies_once_even_when_the_job_runs_again(api: Api) -> None:
    """Followers who can see the track hear of it once; running the fan-out again adds nothing;
    a follower who cannot see an exclusive hears nothing."""
    artist = api.artist()
    follower, free_follower = api.fan_on(artist, "supporter"), api.fan()
    for fan in (follower, free_follower):
        assert api.client.post(f"/artists/{artist.id}/follow", headers=fan.headers).status_code == 204
    api.ready_track(artist, title="Nuits blanches")
    exclusive = api.ready_track(artist, title="B-side", exclusive="true")

    assert _feed(api, follower.headers) == [("release_open", False), ("release_open", False)]
    assert _feed(api, free_follower.headers) == [("release_open", False)]
    # A worker restarted mid-job runs it again: nothing new.
    notifications_of(api.services).fan_out(
        {
            "kind": "release_open",
            "artist_id": artist.id,
            "subject_id": exclusive,
            "text": "B-side",
            "at": api.clock.now().isoformat(),
            "fan_ids": [],
        }
    )
    assert len(_feed(api, follower.headers)) == 2


def test_qa_opened_and_answered_and_a_dm_reply_reach_the_right_fans(api: Api) -> None:
    """Q&A opened: supporters+ only; answered: the asker; a reply: the fan written to."""
    artist = api.artist()
    supporter, superfan, free = api.fan_on(artist, "supporter"), api.fan_on(artist, "superfan"), api.fan()
    api.client.post(f"/artists/{artist.id}/follow", headers=free.headers)
    qa = api.client.post(f"/artists/{artist.id}/qa", json={"title": "Q&A"}, headers=artist.headers).json()
    question = api.client.post(
        f"/qa/{qa['id']}/questions", json={"body": "Vinyl?"}, headers=supporter.headers
    ).json()
    api.clock.advance(minutes=1)
    api.client.put(
        f"/qa/{qa['id']}/questions/{question['id']}/answer", json={"body": "Yes"}, headers=artist.headers
    )
    api.client.post(f"/artists/{artist.id}/messages", json={"body": "hi"}, headers=superfan.headers)
    api.client.post(
        f"/artists/{artist.id}/conversations/{superfan.id}/replies",
        json={"body": "hey"},
        headers=artist.headers,
    )

    assert [k for k, _ in _feed(api, supporter.headers)] == ["qa_answered", "qa_opened"]
    assert sorted(k for k, _ in _feed(api, superfan.headers)) == ["dm_reply", "qa_opened"]
    assert _feed(api, free.headers) == []


def test_marking_read_and_choosing_email(api: Api) -> None:
    """Mark one read, then all; email goes only for the kinds chosen, to the fan's address."""
    artist = api.artist()
    fan = api.fan_on(artist, "superfan")
    chosen = api.client.put("/me/notification-email", json={"kinds": ["dm_reply"]}, headers=fan.headers)
    assert chosen.status_code == 200, chosen.text
    assert api.client.get("/me/notification-email", headers=fan.headers).json() == {"kinds": ["dm_reply"]}
    api.client.post(f"/artists/{artist.id}/qa", json={"title": "Q&A"}, headers=artist.headers)
    api.client.post(f"/artists/{artist.id}/messages", json={"body": "hi"}, headers=fan.headers)
    api.clock.advance(minutes=1)
    api.client.post(
        f"/artists/{artist.id}/conversations/{fan.id}/replies", json={"body": "hey"}, headers=artist.headers
    )

    feed = api.client.get("/me/notifications", headers=fan.headers).json()
    assert [n["kind"] for n in feed] == ["dm_reply", "qa_opened"]
    mailed = [m.subject for m in api.outbox().sent(fan.email)]
    assert mailed.count("The artist replied to you") == 1
    assert not any(s.startswith("Q&A open") for s in mailed)

    read_one = api.client.post("/me/notifications/read", json={"ids": [feed[0]["id"]]}, headers=fan.headers)
    assert read_one.status_code == 204
    assert _feed(api, fan.headers) == [("dm_reply", True), ("qa_opened", False)]
    api.client.post("/me/notifications/read", json={}, headers=fan.headers)
    assert _feed(api, fan.headers) == [("dm_reply", True), ("qa_opened", True)]

    assert_error(api.client.put("/me/notification-email", json={"kinds": ["spam"]}, headers=fan.headers), 422)
    assert_error(api.client.get("/me/notifications", params={"limit": 0}, headers=fan.headers), 422)
    assert_error(api.client.get("/me/notifications", headers=artist.headers), 403)
    assert NotificationKind.LIVE_SESSION_STARTING.value == "live_session_starting"
