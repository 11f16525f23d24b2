"""GET /me/export carries a person's engagement data; DELETE /me erases or blanks it, and every
count others see stays equal to what is stored."""

from __future__ import annotations

from typing import Any

import attrs

from musicconnect.domain.accounts import ERASED_NAME
from tests.unit.http.conftest import PASSWORD, Api, User

PRIVATE = "Will the vinyl have the demo of « Nuits » ?"


@attrs.frozen
class Scene:
    artist: User
    fan: User
    other: User
    track_id: str
    qa_id: str
    mine: str
    theirs: str


def _scene(api: Api) -> Scene:
    """A superfan who follows, likes, plays, asks, upvotes, writes and is answered; another
    supporter whose question the superfan upvoted and who upvoted the superfan's."""
    artist = api.artist()
    fan, other = api.fan_on(artist, "superfan"), api.fan_on(artist, "supporter")
    for who in (fan, other):
        assert api.client.post(f"/artists/{artist.id}/follow", headers=who.headers).status_code == 204
    track_id = api.ready_track(artist, title="Nuits blanches")  # its release reaches both followers
    for who in (fan, other):
        assert api.client.post(f"/tracks/{track_id}/like", headers=who.headers).status_code == 204
    assert api.client.post(f"/tracks/{track_id}/plays", headers=fan.headers).status_code == 202
    chosen = api.client.put("/me/notification-email", json={"kinds": ["qa_answered"]}, headers=fan.headers)
    assert chosen.status_code == 200, chosen.text
    qa_id = _ok(api.client.post(f"/artists/{artist.id}/qa", json={"title": "Mars"}, headers=artist.headers))[
        "id"
    ]
    mine = _ok(api.client.post(f"/qa/{qa_id}/questions", json={"body": PRIVATE}, headers=fan.headers))["id"]
    theirs = _ok(api.client.post(f"/qa/{qa_id}/questions", json={"body": "Tour?"}, headers=other.headers))[
        "id"
    ]
    for voter, question in ((fan, theirs), (other, mine)):
        voted = api.client.post(f"/qa/{qa_id}/questions/{question}/votes", headers=voter.headers)
        assert voted.status_code == 204, voted.text
    answered = api.client.put(
        f"/qa/{qa_id}/questions/{mine}/answer", json={"body": "Oui, en face B."}, headers=artist.headers
    )
    assert answered.status_code == 200, answered.text
    _ok(
        api.client.post(
            f"/artists/{artist.id}/messages", json={"body": "my private words"}, headers=fan.headers
        )
    )
    _ok(
        api.client.post(
            f"/artists/{artist.id}/conversations/{fan.id}/replies",
            json={"body": "Merci !"},
            headers=artist.headers,
        )
    )
    return Scene(artist, fan, other, track_id, qa_id, mine, theirs)


def _ok(response: Any) -> Any:
    assert response.status_code in {200, 201}, response.text
    return response.json()


def _questions(api: Api, scene: Scene) -> dict[str, tuple[str, str | None, int]]:
    page = _ok(api.client.get(f"/qa/{scene.qa_id}", headers=scene.other.headers))
    return {q["id"]: (q["body"], q["answer"], q["votes"]) for q in page["questions"]}


def test_a_fans_export_holds_their_library_questions_votes_conversations_and_notifications(api: Api) -> None:
    """Every kind of engagement data, with what it says: whom they follow, what they like and
    played, what they asked and upvoted, both sides of their DM thread, their feed and choices."""
    scene = _scene(api)

    exported = _ok(api.client.get("/me/export", headers=scene.fan.headers))["engagement"]

    assert [f["artist_id"] for f in exported["following"]] == [scene.artist.id]
    assert [like["track_id"] for like in exported["likes"]] == [scene.track_id]
    assert [(h["track_id"], h["plays"]) for h in exported["history"]] == [(scene.track_id, 1)]
    assert [(q["id"], q["body"], q["answer"], q["votes"]) for q in exported["questions"]] == [
        (scene.mine, PRIVATE, "Oui, en face B.", 1)
    ]
    assert [v["question_id"] for v in exported["votes"]] == [scene.theirs]
    [conversation] = exported["conversations"]
    assert conversation["artist_id"] == scene.artist.id
    assert [(m["body"], m["from_artist"]) for m in conversation["messages"]] == [
        ("Merci !", True),
        ("my private words", False),
    ]
    kinds = sorted(n["kind"] for n in exported["notifications"])
    assert kinds == ["dm_reply", "qa_answered", "qa_opened", "release_open"]
    assert exported["notification_email"] == ["qa_answered"]
    assert "qa_sessions" not in exported


def test_an_artists_export_holds_their_qas_answers_and_replies(api: Api) -> None:
    """The Q&As they opened with the answers they wrote, and the DM replies they sent."""
    scene = _scene(api)

    exported = _ok(api.client.get("/me/export", headers=scene.artist.headers))["engagement"]

    [session] = exported["qa_sessions"]
    assert (session["id"], session["title"]) == (scene.qa_id, "Mars")
    assert [(a["question_id"], a["answer"]) for a in session["answers"]] == [(scene.mine, "Oui, en face B.")]
    assert [(m["fan_id"], m["body"]) for m in exported["replies_sent"]] == [(scene.fan.id, "Merci !")]


def test_erasing_a_fan_blanks_or_deletes_their_engagement_and_keeps_counts_true(api: Api) -> None:
    """After DELETE /me: follower and like counts drop by one; their question reads as erased
    with its answer and the other fan's vote; their vote is taken back; the artist's thread
    keeps its reply and length, not their words; their feed, choices and history are gone."""
    scene = _scene(api)
    before = _questions(api, scene)
    followers = _ok(api.client.get(f"/artists/{scene.artist.id}"))["followers"]
    likes = _ok(api.client.get(f"/tracks/{scene.track_id}", headers=scene.other.headers))["likes"]

    erased = api.client.request("DELETE", "/me", json={"password": PASSWORD}, headers=scene.fan.headers)
    assert erased.status_code == 204, erased.text

    assert _ok(api.client.get(f"/artists/{scene.artist.id}"))["followers"] == followers - 1
    assert _ok(api.client.get(f"/tracks/{scene.track_id}", headers=scene.other.headers))["likes"] == likes - 1
    assert before == {scene.mine: (PRIVATE, "Oui, en face B.", 1), scene.theirs: ("Tour?", None, 1)}
    assert _questions(api, scene) == {
        scene.mine: (ERASED_NAME, "Oui, en face B.", 1),
        scene.theirs: ("Tour?", None, 0),
    }
    thread = _ok(
        api.client.get(
            f"/artists/{scene.artist.id}/conversations/{scene.fan.id}", headers=scene.artist.headers
        )
    )
    assert [m["body"] for m in thread] == ["Merci !", ERASED_NAME]
    with api.services.uow() as uow:
        assert uow.notifications.of_fan(scene.fan.id, 100) == []
        assert uow.notifications.email_kinds(scene.fan.id) == frozenset()
        assert uow.plays.history(scene.fan.id, 100) == []
        assert uow.fans.following(scene.fan.id) == []
        assert uow.fans.liked(scene.fan.id) == []
        assert uow.questions.votes_of(scene.fan.id) == []
    assert PRIVATE not in api.client.get(f"/qa/{scene.qa_id}", headers=scene.artist.headers).text


def test_erasing_an_artist_blanks_their_qa_answers_and_replies_not_the_fans_words(api: Api) -> None:
    """The Q&A's title and answers, and the DM reply, become the erased marker; the fans'
    questions and messages stay theirs."""
    scene = _scene(api)

    erased = api.client.request("DELETE", "/me", json={"password": PASSWORD}, headers=scene.artist.headers)
    assert erased.status_code == 204, erased.text

    page = _ok(api.client.get(f"/qa/{scene.qa_id}", headers=scene.other.headers))
    assert page["qa"]["title"] == ERASED_NAME
    assert {q["id"]: (q["body"], q["answer"]) for q in page["questions"]} == {
        scene.mine: (PRIVATE, ERASED_NAME),
        scene.theirs: ("Tour?", None),
    }
    thread = _ok(api.client.get(f"/me/conversations/{scene.artist.id}", headers=scene.fan.headers))
    assert [m["body"] for m in thread] == [ERASED_NAME, "my private words"]
