"""Registering, logging in, refreshing, logging out, and how bad tokens are refused."""

from __future__ import annotations

from musicconnect.usecases.accounts import set_admin
from tests.unit.http.conftest import ADMIN_EMAIL, PASSWORD, Api, User, assert_error


def test_register_answers_201_with_id_and_role(api: Api) -> None:
    """A new account comes back as its id and role."""
    response = api.client.post(
        "/auth/register",
        json={"email": "Ada@Example.com", "password": PASSWORD, "role": "artist", "display_name": "Ada"},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "role"}
    assert body["role"] == "artist"
    assert api.client.get(f"/artists/{body['id']}").status_code == 200


def test_registering_a_known_email_answers_like_a_new_one(api: Api) -> None:
    """No enumeration: a taken email (in any case) gets the same status and body shape as a new
    one; its owner is told by email instead, and no second account appears."""
    api.register("fan", email="twice@example.com")
    body = {"password": PASSWORD, "role": "fan", "display_name": "Again"}
    known = api.client.post("/auth/register", json={**body, "email": "TWICE@example.com"})
    new = api.client.post("/auth/register", json={**body, "email": "fresh@example.com"})
    assert known.status_code == new.status_code == 201
    assert set(known.json()) == set(new.json()) == {"id", "role"}
    assert known.json()["role"] == new.json()["role"] == "fan"
    outbox = api.outbox()
    assert [m.subject for m in outbox.sent("twice@example.com")][
        -1
    ] == "You already have a Music Connect account"
    assert "Confirm your email" in outbox.sent("fresh@example.com")[-1].subject
    with api.services.uow() as uow:
        assert uow.accounts.get(known.json()["id"]) is None


def test_register_refuses_an_unknown_role(api: Api) -> None:
    """Only artist and fan may be chosen; admin is never self-assigned."""
    for role in ("admin", "superuser"):
        response = api.client.post(
            "/auth/register",
            json={"email": f"{role}@example.com", "password": PASSWORD, "role": role, "display_name": "X"},
        )
        assert_error(response, 422, "invalid_input")


def test_register_refuses_a_short_password_and_a_bad_email(api: Api) -> None:
    """Domain rules on the account surface as 422."""
    short = {"email": "a@example.com", "password": "short", "role": "fan", "display_name": "A"}
    assert_error(api.client.post("/auth/register", json=short), 422, "invalid_input")
    bad_email = {"email": "not-an-email", "password": PASSWORD, "role": "fan", "display_name": "A"}
    assert_error(api.client.post("/auth/register", json=bad_email), 422, "invalid_input")


def test_register_refuses_unknown_fields(api: Api) -> None:
    """Request bodies are closed: an unexpected field is a 422, not silently dropped."""
    body = {
        "email": "b@example.com",
        "password": PASSWORD,
        "role": "fan",
        "display_name": "B",
        "is_admin": True,
    }
    assert_error(api.client.post("/auth/register", json=body), 422, "invalid_input")


def test_no_email_registers_as_admin_only_the_operator_grants_it(api: Api) -> None:
    """Registering the operator's own address (any case or spacing) gives a fan; only
    `admin grant` on the server makes it admin, seen at the next sign-in."""
    response = api.client.post(
        "/auth/register",
        json={"email": f" {ADMIN_EMAIL.upper()} ", "password": PASSWORD, "role": "fan", "display_name": "A"},
    )
    assert response.json()["role"] == "fan"
    fan = api.login(User(id=response.json()["id"], role="fan", email=ADMIN_EMAIL))
    assert api.client.get("/me", headers=fan.headers).json()["role"] == "fan"
    assert api.client.post("/payouts/run", json={"period": "2025-03"}, headers=fan.headers).status_code == 403
    set_admin(ADMIN_EMAIL, admin=True, uow=api.services.uow())
    admin = api.login(fan)
    assert api.client.get("/me", headers=admin.headers).json()["role"] == "admin"


def test_login_returns_a_bearer_pair(api: Api) -> None:
    """Login answers access and refresh tokens, the type and the lifetime."""
    api.register("fan", email="login@example.com")
    response = api.client.post("/auth/login", json={"email": "login@example.com", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert body["access_token"]
    assert body["refresh_token"]


def test_login_with_a_wrong_password_or_unknown_email_is_401(api: Api) -> None:
    """Both failures look the same and carry WWW-Authenticate."""
    api.register("fan", email="login@example.com")
    wrong = api.client.post("/auth/login", json={"email": "login@example.com", "password": "wrong password"})
    unknown = api.client.post("/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    for response in (wrong, unknown):
        assert_error(response, 401, "authentication_failed")
        assert response.headers["www-authenticate"] == "Bearer"
    assert wrong.json() == unknown.json()


def test_refresh_returns_a_new_pair_and_spends_the_old_refresh_token(api: Api) -> None:
    """Refresh tokens rotate: the first use works, the second is 401."""
    fan = api.fan()
    first = api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token})
    assert first.status_code == 200
    pair = first.json()
    assert pair["token_type"] == "bearer"
    assert api.client.get(
        "/me/subscriptions", headers={"Authorization": f"Bearer {pair['access_token']}"}
    ).is_success
    again = api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token})
    assert_error(again, 401, "authentication_failed")
    assert api.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401


def test_refresh_refuses_an_access_token(api: Api) -> None:
    """An access token is not a refresh token."""
    fan = api.fan()
    assert_error(api.client.post("/auth/refresh", json={"refresh_token": fan.access_token}), 401)


def test_logout_revokes_the_access_token(api: Api) -> None:
    """After logout the same bearer token is refused."""
    fan = api.fan()
    assert api.client.get("/me/subscriptions", headers=fan.headers).status_code == 200
    response = api.client.post("/auth/logout", headers=fan.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.client.get("/me/subscriptions", headers=fan.headers), 401, "authentication_failed")
    assert_error(api.client.post("/auth/logout", headers=fan.headers), 401)


def test_logout_revokes_the_refresh_token_of_the_login(api: Api) -> None:
    """Logout ends the whole login: the refresh token issued with the access token is refused,
    sent along or not."""
    fan = api.fan()
    assert api.client.post("/auth/logout", headers=fan.headers).status_code == 204
    assert_error(api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token}), 401)


def test_logout_revokes_tokens_refreshed_from_the_login(api: Api) -> None:
    """Access and refresh tokens rotated from the login die with it."""
    fan = api.fan()
    rotated = api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token}).json()
    assert api.client.post("/auth/logout", headers=fan.headers).status_code == 204
    rotated_headers = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert_error(api.client.get("/me/subscriptions", headers=rotated_headers), 401)
    assert_error(api.client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 401)


def test_logout_leaves_other_logins_alone(api: Api) -> None:
    """Another login of the same account (another device) keeps working."""
    fan = api.fan()
    other = api.login(fan)
    assert api.client.post("/auth/logout", headers=fan.headers).status_code == 204
    assert api.client.get("/me/subscriptions", headers=other.headers).status_code == 200
    assert api.client.post("/auth/refresh", json={"refresh_token": other.refresh_token}).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_its_successors(api: Api) -> None:
    """A refresh token used twice is a stolen copy: the pair its first use made dies too."""
    fan = api.fan()
    successor = api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token}).json()
    assert_error(api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token}), 401)
    assert_error(api.client.post("/auth/refresh", json={"refresh_token": successor["refresh_token"]}), 401)
    headers = {"Authorization": f"Bearer {successor['access_token']}"}
    assert_error(api.client.get("/me/subscriptions", headers=headers), 401)


def test_a_missing_token_is_401_with_www_authenticate(api: Api) -> None:
    """Routes for signed-in callers refuse anonymous requests."""
    response = api.client.get("/me/subscriptions")
    assert_error(response, 401, "authentication_failed")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_error(api.client.post("/auth/logout"), 401)


def test_a_garbage_token_is_401(api: Api) -> None:
    """Tokens that do not decode, other schemes and empty bearer values are all refused."""
    for header in ("Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer " + "x" * 5000):
        response = api.client.get("/me/subscriptions", headers={"Authorization": header})
        assert_error(response, 401, "authentication_failed")
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_refresh_token_is_not_an_access_token(api: Api) -> None:
    """Presenting the refresh token as a bearer token is refused."""
    fan = api.fan()
    response = api.client.get("/me/subscriptions", headers={"Authorization": f"Bearer {fan.refresh_token}"})
    assert_error(response, 401)


def test_a_bad_token_on_a_public_route_is_still_401(api: Api) -> None:
    """Public routes accept anonymous callers but never a broken token."""
    artist = api.artist()
    assert api.client.get(f"/artists/{artist.id}").status_code == 200
    assert_error(api.client.get(f"/artists/{artist.id}", headers={"Authorization": "Bearer nope"}), 401)
