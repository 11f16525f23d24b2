"""Subscribing, changing tier, cancelling, listing, and the monthly billing run."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.http.conftest import T0, Api, User, assert_error

SUBSCRIPTION_FIELDS = {
    "id",
    "artist_id",
    "fan_id",
    "tier",
    "status",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "pending_tier",
    "price_minor",
    "currency",
}


def _url(artist: User) -> str:
    return f"/artists/{artist.id}/subscription"


def test_subscribing_answers_201_with_the_subscription(api: Api) -> None:
    """The body carries tier, status, the period and the price the fan pays."""
    artist, fan = api.artist(), api.fan()
    response = api.subscribe(fan, artist, "supporter")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == SUBSCRIPTION_FIELDS | {"charged_minor", "checkout_url"}
    assert (body["artist_id"], body["fan_id"], body["tier"], body["status"]) == (
        artist.id,
        fan.id,
        "supporter",
        "active",
    )
    # Offline the first month is charged at once: nothing to pay on a page.
    assert (body["charged_minor"], body["checkout_url"]) == (500, None)
    assert (body["price_minor"], body["currency"]) == (500, "USD")
    assert body["cancel_at_period_end"] is False
    assert body["pending_tier"] is None
    assert body["current_period_end"].startswith("2025-04-10T12:00:00")


def test_subscribing_twice_is_409(api: Api) -> None:
    """One live subscription per fan and artist."""
    artist, fan = api.artist(), api.fan()
    assert api.subscribe(fan, artist, "free").status_code == 201
    assert_error(api.subscribe(fan, artist, "superfan"), 409, "conflict")


def test_only_fans_subscribe(api: Api) -> None:
    """Artists get 403; anonymous callers 401."""
    artist = api.artist()
    assert_error(api.subscribe(api.artist(), artist, "supporter"), 403, "forbidden")
    assert_error(api.client.post(_url(artist), json={"tier": "supporter"}), 401)


def test_subscribing_to_an_unknown_artist_is_404(api: Api) -> None:
    """There is nobody to subscribe to."""
    fan = api.fan()
    response = api.client.post("/artists/nobody/subscription", json={"tier": "free"}, headers=fan.headers)
    assert_error(response, 404, "not_found")


def test_an_unknown_tier_is_422(api: Api) -> None:
    """The tier must be free, supporter or superfan."""
    artist, fan = api.artist(), api.fan()
    assert_error(api.subscribe(fan, artist, "platinum"), 422, "invalid_input")
    assert_error(api.client.post(_url(artist), json={}, headers=fan.headers), 422, "invalid_input")


def test_an_upgrade_charges_the_prorated_difference_at_once(api: Api) -> None:
    """Half-way through the period, supporter -> superfan charges half of the 5.00 difference."""
    artist = api.artist()
    fan = api.fan_on(artist, "supporter")
    api.clock.set(T0 + timedelta(days=15, hours=12))  # half of the 31-day March-April period
    fan = api.login(fan)
    response = api.client.patch(_url(artist), json={"tier": "superfan"}, headers=fan.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == SUBSCRIPTION_FIELDS | {"charged_minor", "checkout_url"}
    assert body["charged_minor"] == 250
    assert (body["tier"], body["price_minor"], body["pending_tier"]) == ("superfan", 1000, None)
    dashboard = api.client.get(f"/artists/{artist.id}/dashboard", headers=api.login(artist).headers).json()
    assert sum(dashboard["revenue_30d"].values()) == 750


def test_a_downgrade_waits_for_the_period_end(api: Api) -> None:
    """Superfan -> supporter charges nothing and is scheduled, not applied."""
    artist = api.artist()
    fan = api.fan_on(artist, "superfan")
    response = api.client.patch(_url(artist), json={"tier": "supporter"}, headers=fan.headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["tier"], body["pending_tier"], body["charged_minor"]) == ("superfan", "supporter", 0)


def test_changing_to_the_current_tier_is_409(api: Api) -> None:
    """There is nothing to change."""
    artist = api.artist()
    fan = api.fan_on(artist, "supporter")
    assert_error(api.client.patch(_url(artist), json={"tier": "supporter"}, headers=fan.headers), 409)


def test_changing_or_cancelling_without_a_subscription_is_404(api: Api) -> None:
    """PATCH and DELETE need a live subscription."""
    artist, fan = api.artist(), api.fan()
    assert_error(api.client.patch(_url(artist), json={"tier": "superfan"}, headers=fan.headers), 404)
    assert_error(api.client.delete(_url(artist), headers=fan.headers), 404)


def test_cancel_keeps_access_until_the_period_ends(api: Api) -> None:
    """DELETE answers 200 with cancel_at_period_end; the tier stays until then."""
    artist = api.artist()
    fan = api.fan_on(artist, "supporter")
    response = api.client.delete(_url(artist), headers=fan.headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["cancel_at_period_end"], body["tier"], body["status"], body["pending_tier"]) == (
        True,
        "supporter",
        "active",
        "free",
    )


def test_me_subscriptions_lists_the_fans_subscriptions(api: Api) -> None:
    """Each of the fan's subscriptions, and nobody else's."""
    first, second = api.artist(), api.artist()
    fan = api.fan()
    api.subscribe(fan, first, "supporter")
    api.subscribe(fan, second, "free")
    api.fan_on(first, "superfan")
    listed = api.client.get("/me/subscriptions", headers=fan.headers).json()
    assert {(s["artist_id"], s["tier"]) for s in listed} == {(first.id, "supporter"), (second.id, "free")}
    assert all(set(s) == SUBSCRIPTION_FIELDS for s in listed)


def test_the_admin_runs_billing(api: Api) -> None:
    """After the period ends, the billing run renews and charges; cancelled ones end."""
    artist = api.artist()
    renewing = api.fan_on(artist, "supporter")
    leaving = api.fan_on(artist, "superfan")
    assert api.client.delete(_url(artist), headers=leaving.headers).status_code == 200
    api.clock.set(T0 + timedelta(days=32))
    admin = api.admin()
    response = api.client.post("/admin/billing/run", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {"renewed": 1, "canceled": 1, "past_due": 0}
    [renewed] = api.client.get("/me/subscriptions", headers=api.login(renewing).headers).json()
    assert renewed["current_period_end"].startswith("2025-05-10")
    again = api.client.post("/admin/billing/run", headers=admin.headers)
    assert again.json() == {"renewed": 0, "canceled": 0, "past_due": 0}


def test_only_an_admin_runs_billing(api: Api) -> None:
    """Fans and artists get 403; anonymous callers 401."""
    for user in (api.fan(), api.artist()):
        assert_error(api.client.post("/admin/billing/run", headers=user.headers), 403, "forbidden")
    assert_error(api.client.post("/admin/billing/run"), 401)


def test_return_pages_must_be_web_addresses(api: Api) -> None:
    """A checkout's return pages are http(s) URLs: a script or a bare word is refused with 422."""
    artist, fan = api.artist(), api.fan()
    for bad in ("javascript:alert(1)", "data:text/html,hi", "ftp://example.com/x", "elsewhere", "https://"):
        body = {"tier": "supporter", "success_url": bad, "cancel_url": "https://app.example/no"}
        response = api.client.post(_url(artist), json=body, headers=fan.headers)
        assert response.status_code == 422, (bad, response.text)
    good = {
        "tier": "supporter",
        "success_url": "https://app.example/ok",
        "cancel_url": "http://localhost:3000/no",
    }
    assert api.client.post(_url(artist), json=good, headers=fan.headers).status_code == 201


def test_a_request_without_its_body_is_told_so(api: Api) -> None:
    artist, fan = api.artist(), api.fan()

    response = api.client.post(_url(artist), headers=fan.headers)

    assert response.status_code == 422
    assert response.json() == {"error": "invalid_input", "detail": "this request needs a JSON body"}
