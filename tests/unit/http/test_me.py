"""The signed-in person's own account over HTTP: read, change, export, erase."""

from __future__ import annotations

from tests.unit.http.conftest import PASSWORD, Api, assert_error


def test_me_shows_the_account_without_its_hash(api: Api) -> None:
    """GET /me: id, email, verification, role, name, creation time; never the password hash."""
    fan = api.register("fan", email="me@example.com", name="Me Myself")

    me = api.client.get("/me", headers=fan.headers)

    assert me.status_code == 200
    body = me.json()
    assert set(body) == {"id", "email", "email_verified", "role", "display_name", "created_at"}
    assert (body["id"], body["email"], body["role"], body["display_name"]) == (
        fan.id,
        "me@example.com",
        "fan",
        "Me Myself",
    )
    assert_error(api.client.get("/me"), 401)


def test_patch_me_renames_and_the_artist_profile_follows(api: Api) -> None:
    """A new display name shows on /me and on the public artist profile."""
    artist = api.artist()

    renamed = api.client.patch("/me", json={"display_name": "  New Name "}, headers=artist.headers)

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["display_name"] == "New Name"
    assert api.client.get(f"/artists/{artist.id}").json()["display_name"] == "New Name"


def test_a_password_change_needs_the_current_password_and_the_rules(api: Api) -> None:
    """Wrong current password 401; a weak new one 422; a good one works at the next login."""
    fan = api.fan()
    wrong = api.client.patch(
        "/me", json={"password": "a much better secret", "current_password": "nope nope"}, headers=fan.headers
    )
    weak = api.client.patch(
        "/me", json={"password": "password1", "current_password": PASSWORD}, headers=fan.headers
    )
    good = api.client.patch(
        "/me", json={"password": "a much better secret", "current_password": PASSWORD}, headers=fan.headers
    )

    assert_error(wrong, 401)
    assert_error(weak, 422)
    assert good.status_code == 200
    login = api.client.post("/auth/login", json={"email": fan.email, "password": "a much better secret"})
    assert login.status_code == 200


def test_the_export_is_all_the_callers_data_as_json(api: Api) -> None:
    """An artist's export carries the account, profile, tiers and tracks, and no hash."""
    artist = api.artist()
    api.ready_track(artist, title="Exported")

    exported = api.client.get("/me/export", headers=artist.headers)

    assert exported.status_code == 200
    body = exported.json()
    assert body["account"]["email"] == artist.email
    assert [t["title"] for t in body["artist"]["tracks"]] == ["Exported"]
    assert "hash" not in exported.text
    assert exported.headers["cache-control"] == "no-store"


def test_the_export_lists_the_fans_payments_and_the_artists_payouts(api: Api) -> None:
    """Each charge about the fan (amount, currency, when, to whom, what for), none of anyone
    else's; the artist's export has their payouts."""
    artist, other = api.artist(), api.artist()
    fan = api.fan_on(artist, "supporter")
    api.fan_on(other, "superfan")  # someone else's payment
    upgraded = api.client.patch(
        f"/artists/{artist.id}/subscription", json={"tier": "superfan"}, headers=fan.headers
    )
    assert upgraded.status_code == 200, upgraded.text
    api.client.post("/payouts/run", json={"period": "2025-03"}, headers=api.admin().headers)

    payments = api.client.get("/me/export", headers=fan.headers).json()["payments"]
    payouts = api.client.get("/me/export", headers=artist.headers).json()["artist"]["payouts"]

    assert [(p["kind"], p["amount_minor"], p["currency"], p["artist_id"]) for p in payments] == [
        ("charge", 500, "USD", artist.id),
        ("charge", upgraded.json()["charged_minor"], "USD", artist.id),
    ]
    assert all(p["occurred_at"].startswith("2025-03-10") and p["what_for"] for p in payments)
    assert [(p["period"], p["gross"]["amount_minor"]) for p in payouts] == [
        ("2025-03", 500 + upgraded.json()["charged_minor"])
    ]


def test_delete_me_erases_the_person_and_ends_the_session(api: Api) -> None:
    """The password is required; after erasure the email is free, the token and login dead."""
    fan = api.fan()
    assert_error(
        api.client.request("DELETE", "/me", json={"password": "wrong one!"}, headers=fan.headers), 401
    )

    erased = api.client.request("DELETE", "/me", json={"password": PASSWORD}, headers=fan.headers)

    assert erased.status_code == 204
    assert_error(api.client.get("/me", headers=fan.headers), 401)
    assert_error(api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token}), 401)
    assert api.client.post("/auth/login", json={"email": fan.email, "password": PASSWORD}).status_code == 401
    again = api.client.post(
        "/auth/register",
        json={"email": fan.email, "password": PASSWORD, "role": "fan", "display_name": "Back"},
    )
    assert again.status_code == 201
    with api.services.uow() as uow:
        assert uow.accounts.get(again.json()["id"]) is not None


def test_ledger_rows_of_an_erased_fan_stay_and_name_nobody(api: Api) -> None:
    """The fan's payment stays in the books (the artist's revenue is unchanged); the id it points
    at now belongs to an account with no email and no name."""
    artist = api.artist()
    fan = api.fan_on(artist, "supporter")
    before = api.client.get(f"/artists/{artist.id}/dashboard", headers=artist.headers).json()["revenue_30d"]

    api.client.request("DELETE", "/me", json={"password": PASSWORD}, headers=fan.headers)

    after = api.client.get(f"/artists/{artist.id}/dashboard", headers=artist.headers).json()
    assert after["revenue_30d"] == before
    with api.services.uow() as uow:
        account = uow.accounts.get(fan.id)
    assert account is not None
    assert fan.email not in account.email
    assert account.display_name == "(erased)"
    assert [f["display_name"] for f in after["top_fans"]["by_spend"]] == ["(erased)"]


def test_a_superfans_messages_are_exported_and_erased_with_them(api: Api) -> None:
    """The export lists the messages a fan sent; after erasure the artist's inbox keeps the
    thread but not the words."""
    artist = api.artist()
    fan = api.fan_on(artist, "superfan")
    api.client.post(f"/artists/{artist.id}/messages", json={"body": "my private words"}, headers=fan.headers)

    exported = api.client.get("/me/export", headers=fan.headers).json()
    assert [m["body"] for m in exported["messages_sent"]] == ["my private words"]
    api.client.request("DELETE", "/me", json={"password": PASSWORD}, headers=fan.headers)

    inbox = api.client.get(f"/artists/{artist.id}/messages", headers=artist.headers).json()
    assert len(inbox) == 1
    assert "my private words" not in str(inbox)


def test_the_verification_email_can_be_sent_again(api: Api) -> None:
    """POST /me/verification mails a fresh link to an unverified address."""
    body = {"email": "again@example.com", "password": PASSWORD, "role": "fan", "display_name": "A"}
    api.client.post("/auth/register", json=body)
    login = api.client.post("/auth/login", json={"email": "again@example.com", "password": PASSWORD}).json()

    resent = api.client.post("/me/verification", headers={"Authorization": f"Bearer {login['access_token']}"})

    assert resent.status_code == 202
    assert len(api.outbox().sent("again@example.com")) == 2


def test_the_link_in_a_verification_email_opens_a_web_page_that_verifies_once(api: Api) -> None:
    """The emailed link is a page, not JSON: it proves the address once; the same link again is refused."""
    body = {"email": "opened@example.com", "password": PASSWORD, "role": "fan", "display_name": "O"}
    api.client.post("/auth/register", json=body)
    [email] = api.outbox().sent("opened@example.com")
    link = next(line for line in email.body.splitlines() if "/verify-email?token=" in line)
    path = link[link.index("/verify-email") :]

    opened = api.client.get(path)
    again = api.client.get(path)

    assert not path.startswith("/auth/")
    assert opened.status_code == 200, opened.text
    assert opened.headers["content-type"].startswith("text/html")
    assert "opened@example.com is confirmed" in opened.text
    assert again.status_code == 401
    assert "Link not valid" in again.text
    login = api.client.post("/auth/login", json={"email": "opened@example.com", "password": PASSWORD}).json()
    me = api.client.get("/me", headers={"Authorization": f"Bearer {login['access_token']}"})
    assert me.json()["email_verified"] is True
