"""Registering, logging in, refreshing, logging out, and how bad tokens are refused."""

from __future__ import annotations

from tests.unit.http.conftest import ADMIN_EMAIL, PASSWORD, Api, assert_error


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


def test_registering_an_email_twice_conflicts(api: Api) -> None:
    """The same email (in any case) cannot register twice."""
    api.register("fan", email="twice@example.com")
    response = api.client.post(
        "/auth/register",
        json={"email": "TWICE@example.com", "password": PASSWORD, "role": "fan", "display_name": "Again"},
    )
    assert_error(response, 409, "conflict")


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


def test_an_admin_email_registers_as_admin(api: Api) -> None:
    """Accounts whose email is in MUSICCONNECT_ADMIN_EMAILS get the admin role."""
    assert api.admin().role == "admin"
    assert api.register("fan", email=f"not-{ADMIN_EMAIL}").role == "fan"


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


def test_logout_with_the_refresh_token_revokes_it_too(api: Api) -> None:
    """Sending the refresh token on logout ends the whole session."""
    fan = api.fan()
    response = api.client.post("/auth/logout", json={"refresh_token": fan.refresh_token}, headers=fan.headers)
    assert response.status_code == 204
    assert_error(api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token}), 401)


def test_logout_without_the_refresh_token_leaves_it_usable(api: Api) -> None:
    """Logging out one access token does not end other sessions' refresh tokens."""
    fan = api.fan()
    assert api.client.post("/auth/logout", headers=fan.headers).status_code == 204
    assert api.client.post("/auth/refresh", json={"refresh_token": fan.refresh_token}).status_code == 200


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
