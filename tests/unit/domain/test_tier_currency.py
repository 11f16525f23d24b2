"""An artist's paid tiers share one currency; a new one comes for every paid tier at once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musicconnect.domain.accounts import Artist
from musicconnect.domain.errors import Conflict, InvalidInput
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier, TierPlan, default_plans

PAID = (Tier.SUPPORTER, Tier.SUPERFAN)
CURRENCIES = ("USD", "EUR", "JPY")


def _artist() -> Artist:
    return Artist(id="artist-1", display_name="The Cables", plans=default_plans("USD"))


def _plan(tier: Tier, minor: int, currency: str) -> TierPlan:
    return TierPlan(tier=tier, price=Money(minor, currency), features=())


def _paid_currencies(artist: Artist) -> set[str]:
    return {p.price.currency for p in artist.plans if p.tier is not Tier.FREE}


def test_the_reported_case_a_supporter_price_in_yen_beside_a_superfan_in_dollars_is_refused() -> None:
    with pytest.raises(Conflict, match="set every paid tier at once"):
        _artist().with_plan(_plan(Tier.SUPPORTER, 500, "JPY"))


def test_every_paid_tier_at_once_moves_to_a_new_currency() -> None:
    moved = _artist().with_plans([_plan(Tier.SUPPORTER, 500, "JPY"), _plan(Tier.SUPERFAN, 1000, "JPY")])

    assert _paid_currencies(moved) == {"JPY"}


_CHANGE = st.lists(
    st.tuples(st.sampled_from(PAID), st.integers(1, 5000), st.sampled_from(CURRENCIES)),
    min_size=1,
    max_size=2,
)


@given(st.lists(_CHANGE, max_size=8))
def test_whatever_the_changes_the_paid_tiers_share_one_currency_in_rising_prices(
    changes: list[list[tuple[Tier, int, str]]],
) -> None:
    """Each change (one tier, or both at once) is kept or refused; what is kept always has one
    paid currency and prices rising with the tier, and a change is refused for currency exactly
    when it would leave two currencies."""
    artist = _artist()
    for change in changes:
        plans = {tier: _plan(tier, minor, currency) for tier, minor, currency in change}
        after = {**{p.tier: p for p in artist.plans}, **plans}
        mixed = len({after[t].price.currency for t in PAID}) > 1
        try:
            artist = artist.with_plans(plans.values())
        except Conflict:
            assert mixed
            continue
        except InvalidInput:
            assert not mixed
            continue
        assert not mixed
        assert len(_paid_currencies(artist)) == 1
        supporter, superfan = (artist.plan(t).price.amount_minor for t in PAID)
        assert supporter < superfan
