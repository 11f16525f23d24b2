"""Arbitrary input never makes the API answer 5xx, and every refusal is in the error shape."""

from __future__ import annotations

import json
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.http.conftest import Api, User

ROUTES: Final = [
    ("POST", "/auth/register"),
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/artists/{a}"),
    ("PUT", "/artists/{a}/tiers/{t}"),
    ("GET", "/artists/{a}/tracks"),
    ("GET", "/tracks/{t}"),
    ("GET", "/tracks/{t}/stream"),
    ("GET", "/media/artists/{a}/tracks/{t}/hls/{r}/{f}"),
    ("POST", "/artists/{a}/subscription"),
    ("PATCH", "/artists/{a}/subscription"),
    ("DELETE", "/artists/{a}/subscription"),
    ("GET", "/me/subscriptions"),
    ("POST", "/artists/{a}/follow"),
    ("POST", "/tracks/{t}/like"),
    ("POST", "/tracks/{t}/plays"),
    ("POST", "/artists/{a}/messages"),
    ("GET", "/artists/{a}/dashboard"),
    ("POST", "/payouts/run"),
    ("GET", "/artists/{a}/payouts"),
    ("POST", "/admin/billing/run"),
]
_segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/?#%"),
    min_size=1,
    max_size=30,
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=8,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "email": st.text(max_size=30) | st.just("someone@example.com"),
        "password": st.text(max_size=20),
        "role": st.sampled_from(["fan", "artist", "admin", ""]),
        "display_name": st.text(max_size=20),
        "refresh_token": st.text(max_size=40),
        "tier": st.sampled_from(["free", "supporter", "superfan", "gold"]),
        "price_minor": st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False),
        "currency": st.sampled_from(["USD", "JPY", "usd", "XXX"]),
        "features": st.lists(st.text(max_size=10), max_size=3),
        "body": st.text(max_size=30),
        "period": st.sampled_from(["2025-03", "2025-3", "0000-00", "9999-12"]) | st.text(max_size=8),
    },
)


@pytest.fixture
def users(api: Api) -> dict[str, User]:
    """Made once per test; hypothesis runs every example against the same fixtures."""
    return {"artist": api.artist(), "fan": api.fan(), "admin": api.admin()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    segments=st.tuples(_segment, _segment, _segment, _segment),
    body=st.one_of(_fields, _json),
    who=st.sampled_from(["nobody", "fan", "artist", "admin", "garbage"]),
    query=st.dictionaries(st.sampled_from(["exp", "sub", "sig"]), st.text(max_size=12), max_size=3),
)
def test_no_input_makes_a_5xx(
    api: Api,
    users: dict[str, User],
    *,
    route: tuple[str, str],
    segments: tuple[str, str, str, str],
    body: Any,
    who: str,
    query: dict[str, str],
) -> None:
    """Random paths, bodies, tokens and signature queries get a 2xx or a well-formed 4xx."""
    method, template = route
    artist = users["artist"]
    path = template.format(
        a=artist.id if segments[0].startswith("a") else segments[0],
        t=segments[1],
        r=segments[2],
        f=segments[3],
    )
    headers = {"Content-Type": "application/json"}
    if who == "garbage":
        headers["Authorization"] = "Bearer not-a-token"
    elif who != "nobody":
        headers.update(users[who].headers)
    response = api.client.request(method, path, content=json.dumps(body), headers=headers, params=query)
    assert response.status_code < 500, (method, path, body, response.text)
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "detail"}, response.text
