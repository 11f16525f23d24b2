"""An artist's public profile and the artist's own tier prices."""

from __future__ import annotations

from tests.unit.http.conftest import PASSWORD, Api, assert_error


def test_the_profile_lists_the_three_default_tiers(api: Api) -> None:
    """Anyone sees the profile with each tier's price, currency, features and version."""
    artist = api.artist()
    response = api.client.get(f"/artists/{artist.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == artist.id
    assert body["display_name"]
    assert [(t["tier"], t["price_minor"], t["currency"], t["version"]) for t in body["tiers"]] == [
        ("free", 0, "USD", 1),
        ("supporter", 500, "USD", 1),
        ("superfan", 1000, "USD", 1),
    ]
    assert "direct_messages" in body["tiers"][2]["features"]


def test_an_unknown_artist_is_404(api: Api) -> None:
    """A profile that does not exist is not found."""
    assert_error(api.client.get("/artists/nobody"), 404, "not_found")


def test_a_signed_in_visit_counts_in_the_funnel(api: Api) -> None:
    """Profile visits by signed-in fans feed the dashboard's first funnel step; anonymous ones do not."""
    artist = api.artist()
    fan = api.fan()
    api.client.get(f"/artists/{artist.id}")
    api.client.get(f"/artists/{artist.id}", headers=fan.headers)
    api.client.get(f"/artists/{artist.id}", headers=fan.headers)
    api.client.get(f"/artists/{artist.id}", headers=artist.headers)
    funnel = api.client.get(f"/artists/{artist.id}/dashboard", headers=artist.headers).json()[
        "conversion_funnel"
    ]
    assert funnel["profile_visitors"] == 1


def test_the_artist_sets_a_new_tier_price(api: Api) -> None:
    """A price change answers the new plan with the next version and shows on the profile."""
    artist = api.artist()
    response = api.client.put(
        f"/artists/{artist.id}/tiers/supporter",
        json={"price_minor": 700, "currency": "USD", "features": ["early_access", "backstage photos"]},
        headers=artist.headers,
    )
    assert response.status_code == 200
    assert response.json() == {
        "tier": "supporter",
        "price_minor": 700,
        "currency": "USD",
        "features": ["early_access", "backstage photos"],
        "version": 2,
    }
    tiers = api.client.get(f"/artists/{artist.id}").json()["tiers"]
    assert tiers[1]["price_minor"] == 700


def test_existing_subscribers_keep_their_price_version(api: Api) -> None:
    """A price change does not rewrite what current subscribers pay."""
    artist = api.artist()
    fan = api.fan_on(artist, "supporter")
    api.client.put(
        f"/artists/{artist.id}/tiers/supporter",
        json={"price_minor": 900, "currency": "USD", "features": []},
        headers=artist.headers,
    )
    [subscription] = api.client.get("/me/subscriptions", headers=fan.headers).json()
    assert subscription["price_minor"] == 500


def test_only_that_artist_may_set_its_tiers(api: Api) -> None:
    """Another artist and a fan get 403; no token gets 401."""
    artist = api.artist()
    body = {"price_minor": 700, "currency": "USD", "features": []}
    for stranger in (api.artist(), api.fan()):
        response = api.client.put(
            f"/artists/{artist.id}/tiers/supporter", json=body, headers=stranger.headers
        )
        assert_error(response, 403, "forbidden")
    assert_error(api.client.put(f"/artists/{artist.id}/tiers/supporter", json=body), 401)


def test_a_float_price_is_422(api: Api) -> None:
    """Money is integer minor units: 7.0 and 6.99 are both refused, and so is a numeric string."""
    artist = api.artist()
    for price in (7.0, 6.99, "700", True):
        response = api.client.put(
            f"/artists/{artist.id}/tiers/supporter",
            json={"price_minor": price, "currency": "USD", "features": []},
            headers=artist.headers,
        )
        assert_error(response, 422, "invalid_input")


def test_an_unknown_tier_is_422(api: Api) -> None:
    """Only free, supporter and superfan exist."""
    artist = api.artist()
    response = api.client.put(
        f"/artists/{artist.id}/tiers/platinum",
        json={"price_minor": 700, "currency": "USD", "features": []},
        headers=artist.headers,
    )
    assert_error(response, 422, "invalid_input")


def test_prices_the_tier_rules_refuse_are_422(api: Api) -> None:
    """A priced free tier, a free paid tier, a negative price and an unknown currency are refused."""
    artist = api.artist()
    cases = [
        ("free", {"price_minor": 100, "currency": "USD", "features": []}),
        ("superfan", {"price_minor": 0, "currency": "USD", "features": []}),
        ("superfan", {"price_minor": -5, "currency": "USD", "features": []}),
        ("superfan", {"price_minor": 500, "currency": "XXX", "features": []}),
    ]
    for tier, body in cases:
        response = api.client.put(f"/artists/{artist.id}/tiers/{tier}", json=body, headers=artist.headers)
        assert_error(response, 422, "invalid_input")


def test_an_artist_edits_their_bio_and_links_and_fans_read_them(api: Api) -> None:
    artist = api.artist()

    edited = api.client.patch(
        f"/artists/{artist.id}",
        json={"bio": "Tapes from Lyon.\nLive on Sundays.", "links": ["https://nova.example/"]},
        headers=artist.headers,
    )
    public = api.client.get(f"/artists/{artist.id}")

    assert edited.status_code == 200, edited.text
    assert public.json()["bio"] == "Tapes from Lyon.\nLive on Sundays."
    assert public.json()["links"] == ["https://nova.example/"]


def test_a_profile_link_must_be_a_web_address_and_only_its_artist_may_edit(api: Api) -> None:
    artist = api.artist()
    other = api.artist()

    script = api.client.patch(
        f"/artists/{artist.id}", json={"links": ["javascript:alert(1)"]}, headers=artist.headers
    )
    stranger = api.client.patch(f"/artists/{artist.id}", json={"bio": "mine now"}, headers=other.headers)

    assert_error(script, 422, "invalid_input")
    assert_error(stranger, 403, "forbidden")


def test_an_artists_bio_and_links_are_exported_and_erased_with_them(api: Api) -> None:
    artist = api.artist()
    profile = {"bio": "Tapes from Lyon.", "links": ["https://nova.example/"]}
    api.client.patch(f"/artists/{artist.id}", json=profile, headers=artist.headers)

    exported = api.client.get("/me/export", headers=artist.headers).json()["artist"]
    erased = api.client.request("DELETE", "/me", json={"password": PASSWORD}, headers=artist.headers)
    public = api.client.get(f"/artists/{artist.id}")
    with api.services.uow() as uow:
        kept = uow.artists.get(artist.id)

    assert (exported["bio"], exported["links"]) == (profile["bio"], profile["links"])
    assert erased.status_code == 204
    assert public.status_code == 404  # an erased artist is closed (test_erased_artist.py)
    assert kept is not None
    assert (kept.bio, kept.links) == ("", ())


def test_a_tier_in_another_currency_is_409_and_all_paid_tiers_change_currency_at_once(api: Api) -> None:
    """PUT one tier in JPY beside a superfan tier in USD is refused with how to do it; PUT
    /tiers with both paid tiers in JPY moves them, and fans then pay in JPY."""
    artist = api.artist()
    one = {"price_minor": 500, "currency": "JPY", "features": []}
    refused = api.client.put(f"/artists/{artist.id}/tiers/supporter", json=one, headers=artist.headers)
    assert_error(refused, 409)
    assert "every paid tier at once" in refused.json()["detail"]

    both = {"supporter": one, "superfan": {"price_minor": 1000, "currency": "JPY", "features": ["all"]}}
    moved = api.client.put(f"/artists/{artist.id}/tiers", json={"tiers": both}, headers=artist.headers)

    assert moved.status_code == 200, moved.text
    assert {(p["tier"], p["currency"]) for p in moved.json()} == {("supporter", "JPY"), ("superfan", "JPY")}
    tiers = {t["tier"]: t for t in api.client.get(f"/artists/{artist.id}").json()["tiers"]}
    assert (tiers["supporter"]["currency"], tiers["superfan"]["price_minor"]) == ("JPY", 1000)
    api.fan_on(artist, "supporter")
    dashboard = api.client.get(f"/artists/{artist.id}/dashboard", headers=artist.headers).json()
    assert list(dashboard["revenue_by_currency"]) == ["JPY"]


def test_get_artists_searches_by_name_and_pages_with_a_cursor(api: Api) -> None:
    """The discover page's search as JSON: by name, case-insensitive, ``limit`` a page, then
    ``next_cursor`` until null; bad limits and unknown parameters are refused."""
    names = ["Nova Lights", "the novas", "Cables", "NOVA \u00e9t\u00e9"]
    for name in names:
        artist = api.artist()
        api.client.patch("/me", json={"display_name": name}, headers=artist.headers)

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(len(names)):
        query: dict[str, str | int] = {"q": "nova", "limit": 2}
        if cursor is not None:
            query["cursor"] = cursor
        page = api.client.get("/artists", params=query)
        assert page.status_code == 200, page.text
        seen += [a["display_name"] for a in page.json()["artists"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == sorted((n for n in names if "nova" in n.casefold()), key=str.casefold)
    assert len(api.client.get("/artists").json()["artists"]) == len(names)
    for bad in ({"limit": 0}, {"limit": 101}, {"q": "x" * 101}, {"page": 2}):
        assert api.client.get("/artists", params=bad).status_code in {400, 422}
