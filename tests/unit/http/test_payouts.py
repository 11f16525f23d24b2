"""The artist's dashboard and payout history, and the admin's idempotent payout run."""

from __future__ import annotations

from tests.unit.http.conftest import Api, assert_error


def test_the_dashboard_has_every_section(api: Api) -> None:
    """30 days of plays and revenue, top fans both ways, and the five-step funnel with rates."""
    artist = api.artist()
    supporter = api.fan_on(artist, "supporter")
    api.fan_on(artist, "superfan")
    api.client.get(f"/artists/{artist.id}", headers=supporter.headers)
    response = api.client.get(f"/artists/{artist.id}/dashboard", headers=artist.headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "plays_30d",
        "revenue_30d",
        "revenue_net_30d",
        "revenue_by_currency",
        "unique_listeners_30d",
        "currency",
        "top_fans",
        "conversion_funnel",
    }
    assert body["revenue_by_currency"] == {"USD": {"gross_minor": 1500, "net_minor": 1350}}
    assert body["revenue_net_30d"][api.clock.now().date().isoformat()] == 1350
    assert len(body["plays_30d"]) == 30
    assert list(body["plays_30d"])[-1] == api.clock.now().date().isoformat()
    assert body["revenue_30d"][api.clock.now().date().isoformat()] == 1500
    assert body["currency"] == "USD"
    assert [f["spend_minor"] for f in body["top_fans"]["by_spend"]] == [1000, 500]
    assert set(body["top_fans"]["by_spend"][0]) == {"fan_id", "display_name", "spend_minor"}
    funnel = body["conversion_funnel"]
    assert [s["name"] for s in funnel["steps"]] == [
        "profile_visitors",
        "followers",
        "free_subscribers",
        "supporters",
        "superfans",
    ]
    assert (funnel["free_subscribers"], funnel["supporters"], funnel["superfans"]) == (2, 2, 1)
    assert funnel["steps"][0]["rate"] is None
    assert set(funnel["steps"][0]) == {"name", "count", "rate"}


def test_only_that_artist_sees_the_dashboard(api: Api) -> None:
    """Other artists and fans get 403; anonymous callers 401; an unknown artist 404 for an admin."""
    artist = api.artist()
    for user in (api.artist(), api.fan()):
        assert_error(
            api.client.get(f"/artists/{artist.id}/dashboard", headers=user.headers), 403, "forbidden"
        )
    assert_error(api.client.get(f"/artists/{artist.id}/dashboard"), 401)
    assert_error(api.client.get("/artists/nobody/dashboard", headers=api.admin().headers), 404)


def test_a_payout_run_pays_the_90_percent_and_is_idempotent(api: Api) -> None:
    """Two runs for one period make one payout, with the 90/10 split in the run and the history."""
    artist = api.artist()
    api.fan_on(artist, "supporter")
    api.fan_on(artist, "superfan")
    admin = api.admin()
    first = api.client.post("/payouts/run", json={"period": "2025-03"}, headers=admin.headers)
    assert first.status_code == 200
    assert first.json() == {
        "period": "2025-03",
        "payouts": [
            {
                "artist_id": artist.id,
                "amount_minor": 1350,
                "gross_minor": 1500,
                "platform_fee_minor": 150,
                "currency": "USD",
            }
        ],
    }
    second = api.client.post("/payouts/run", json={"period": "2025-03"}, headers=admin.headers)
    assert second.json() == {"period": "2025-03", "payouts": []}
    history = api.client.get(f"/artists/{artist.id}/payouts", headers=artist.headers)
    assert history.status_code == 200
    [payout] = history.json()
    assert set(payout) == {
        "id",
        "period",
        "amount_minor",
        "gross_minor",
        "platform_fee_minor",
        "processor_fee_minor",
        "net_minor",
        "currency",
        "paid_at",
        "status",
        "arrived_at",
        "processor_ref",
    }
    assert (payout["period"], payout["amount_minor"], payout["platform_fee_minor"]) == ("2025-03", 1350, 150)
    # A receipt: gross = fee + net; offline money arrives the moment it is sent.
    assert (payout["gross_minor"], payout["net_minor"]) == (1500, 1350)
    assert payout["processor_fee_minor"] == 0  # the offline processor keeps nothing
    assert (payout["status"], payout["arrived_at"]) == ("paid", payout["paid_at"])
    assert str(payout["processor_ref"]).startswith("po_offline_")


def test_only_an_admin_runs_payouts(api: Api) -> None:
    """Artists and fans get 403; anonymous callers 401."""
    for user in (api.artist(), api.fan()):
        response = api.client.post("/payouts/run", json={"period": "2025-03"}, headers=user.headers)
        assert_error(response, 403, "forbidden")
    assert_error(api.client.post("/payouts/run", json={"period": "2025-03"}), 401)


def test_a_malformed_period_is_422(api: Api) -> None:
    """The period is YYYY-MM."""
    admin = api.admin()
    for period in ("2025-3", "March", "2025-13", ""):
        response = api.client.post("/payouts/run", json={"period": period}, headers=admin.headers)
        assert_error(response, 422, "invalid_input")


def test_a_month_that_has_not_begun_cannot_be_paid_out(api: Api) -> None:
    """A typo for a future month would spend that month's key: the real run would pay nothing."""
    admin = api.admin()
    next_year = f"{api.clock.now().year + 1}-{api.clock.now().month:02d}"
    response = api.client.post("/payouts/run", json={"period": next_year}, headers=admin.headers)
    assert_error(response, 422, "invalid_input")
    this_month = api.clock.now().strftime("%Y-%m")
    assert (
        api.client.post("/payouts/run", json={"period": this_month}, headers=admin.headers).status_code == 200
    )


def test_only_that_artist_sees_its_payouts(api: Api) -> None:
    """The history is private to the artist (and admins)."""
    artist = api.artist()
    for user in (api.artist(), api.fan()):
        assert_error(api.client.get(f"/artists/{artist.id}/payouts", headers=user.headers), 403)
    assert api.client.get(f"/artists/{artist.id}/payouts", headers=artist.headers).json() == []


def test_a_payout_run_for_an_old_period_is_422(api: Api) -> None:
    """The README's rule: this month or one before it (the test clock is in 2025-03)."""
    admin = api.admin()
    for period in ("1900-01", "2025-01", "2025-04"):
        assert_error(api.client.post("/payouts/run", json={"period": period}, headers=admin.headers), 422)
    assert (
        api.client.post("/payouts/run", json={"period": "2025-02"}, headers=admin.headers).status_code == 200
    )
