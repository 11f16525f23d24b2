"""Monthly Q&A over HTTP: a supporter asks and upvotes, the artist answers, a free fan gets 403."""

from __future__ import annotations

from tests.unit.http.conftest import Api, assert_error


def test_a_supporter_asks_and_upvotes_and_the_artist_answers(api: Api) -> None:
    """201 for the Q&A and questions, 204 for votes, the answer visible to every supporter."""
    artist = api.artist()
    opened = api.client.post(
        f"/artists/{artist.id}/qa",
        json={"title": "March Q&A — « Nuits blanches »", "description": "Ask me anything.\nReally!"},
        headers=artist.headers,
    )
    assert opened.status_code == 201, opened.text
    qa = opened.json()
    assert qa["open"] is True
    assert qa["month"] == api.clock.now().strftime("%Y-%m")
    supporter, superfan = api.fan_on(artist, "supporter"), api.fan_on(artist, "superfan")

    asked = api.client.post(
        f"/qa/{qa['id']}/questions", json={"body": "Which synth is on track 3? 🎛"}, headers=supporter.headers
    )
    assert asked.status_code == 201, asked.text
    other = api.client.post(
        f"/qa/{qa['id']}/questions", json={"body": "Tour dates?"}, headers=superfan.headers
    ).json()
    question = asked.json()
    for _ in range(2):
        vote = api.client.post(f"/qa/{qa['id']}/questions/{question['id']}/votes", headers=superfan.headers)
        assert vote.status_code == 204, vote.text
    answered = api.client.put(
        f"/qa/{qa['id']}/questions/{question['id']}/answer",
        json={"body": "A Juno-60 through a tape echo."},
        headers=artist.headers,
    )
    assert answered.status_code == 200, answered.text

    page = api.client.get(f"/qa/{qa['id']}", headers=supporter.headers)
    assert page.status_code == 200, page.text
    listed = [(q["id"], q["votes"], q["answer"]) for q in page.json()["questions"]]
    assert listed == [(question["id"], 1, "A Juno-60 through a tape echo."), (other["id"], 0, None)]
    newest = api.client.get(f"/qa/{qa['id']}", params={"sort": "time"}, headers=supporter.headers).json()
    assert [q["id"] for q in newest["questions"]] == [other["id"], question["id"]]


def test_free_fans_get_403_and_bad_input_a_clear_4xx(api: Api) -> None:
    """A free fan cannot read or ask; HTML with control characters is 422; a fourth question 429;
    an unknown sort 422; a closed Q&A refuses questions with 409."""
    artist = api.artist()
    qa = api.client.post(f"/artists/{artist.id}/qa", json={"title": "Q&A"}, headers=artist.headers).json()
    free, supporter = api.fan(), api.fan_on(artist, "supporter")
    questions = f"/qa/{qa['id']}/questions"

    assert_error(api.client.post(questions, json={"body": "hi"}, headers=free.headers), 403)
    assert_error(api.client.get(f"/qa/{qa['id']}", headers=free.headers), 403)
    assert_error(api.client.get(f"/artists/{artist.id}/qa", headers=free.headers), 403)
    assert_error(
        api.client.post(
            questions, json={"body": "<img src=x onerror=alert(1)>\x07"}, headers=supporter.headers
        ),
        422,
    )
    assert_error(
        api.client.get(f"/qa/{qa['id']}", params={"sort": "loudest"}, headers=supporter.headers), 422
    )
    assert_error(api.client.get(f"/qa/{qa['id']}", params={"srot": "time"}, headers=supporter.headers), 422)
    for n in range(3):
        assert (
            api.client.post(questions, json={"body": f"q{n}"}, headers=supporter.headers).status_code == 201
        )
    assert_error(api.client.post(questions, json={"body": "q4"}, headers=supporter.headers), 429)
    assert_error(
        api.client.post(f"/artists/{artist.id}/qa", json={"title": "again"}, headers=artist.headers), 409
    )
    assert_error(api.client.post("/qa/nothing/questions", json={"body": "x"}, headers=supporter.headers), 404)

    closed = api.client.post(f"/qa/{qa['id']}/close", headers=artist.headers)
    assert closed.status_code == 200, closed.text
    assert closed.json()["open"] is False
    other = api.fan_on(artist, "superfan")
    assert_error(api.client.post(questions, json={"body": "late"}, headers=other.headers), 409)
    assert len(api.client.get(f"/qa/{qa['id']}", headers=other.headers).json()["questions"]) == 3
