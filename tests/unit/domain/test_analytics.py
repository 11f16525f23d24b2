"""The artist's analytics: the conversion funnel and day windows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musicconnect.domain.analytics import FUNNEL_STEPS, WINDOW_DAYS, audience_funnel, fill_days, funnel
from musicconnect.domain.tiers import Tier


def test_funnel_steps_go_from_visitors_to_superfans() -> None:
    """The design's five steps, in order."""
    assert FUNNEL_STEPS == ("profile_visitors", "followers", "free_subscribers", "supporters", "superfans")


def test_funnel_rate_is_each_step_over_the_previous_one() -> None:
    """1000 visitors, 200 followers (0.2), 50 free (0.25), 10 supporters (0.2), 3 superfans (0.3)."""
    steps = funnel([1000, 200, 50, 10, 3])

    assert [s.name for s in steps] == list(FUNNEL_STEPS)
    assert [s.count for s in steps] == [1000, 200, 50, 10, 3]
    assert [s.rate for s in steps] == [None, 0.2, 0.25, 0.2, 0.3]


def test_funnel_rate_is_none_after_an_empty_step() -> None:
    """Nothing to convert from is not a 0 % conversion: the rate is unknown."""
    steps = funnel([10, 0, 0, 0, 0])

    assert [s.rate for s in steps] == [None, 0.0, None, None, None]


def test_funnel_rates_are_rounded_to_four_places() -> None:
    """1 of 3 is 0.3333."""
    assert funnel([3, 1, 1, 1, 1])[1].rate == 0.3333


def test_a_funnel_step_may_not_outnumber_the_one_before() -> None:
    """Each step is a subset of the one before: more followers than visitors is a counting bug."""
    with pytest.raises(ValueError, match="outnumbers"):
        funnel([2, 5, 5, 5, 5])


def test_a_subscriber_who_never_opened_the_page_counts_at_every_step_up_to_theirs() -> None:
    """The reported case: 2 followers and 4 free subscribers who came by link is 4 of 4, not 2.0."""
    steps = audience_funnel(
        visitors=["v1"], followers=["f1", "f2"], tiers=dict.fromkeys(["f1", "s1", "s2", "s3"], Tier.FREE)
    )

    assert [(s.count, s.rate) for s in steps] == [(6, None), (5, 0.8333), (4, 0.8), (0, 0.0), (0, None)]


_PEOPLE = st.sampled_from([f"person-{n}" for n in range(8)])


@given(
    visitors=st.lists(_PEOPLE),
    followers=st.lists(_PEOPLE),
    tiers=st.dictionaries(_PEOPLE, st.sampled_from(list(Tier))),
)
def test_any_audience_makes_a_funnel_of_nested_steps(
    visitors: list[str], followers: list[str], tiers: dict[str, Tier]
) -> None:
    """Whatever visits, follows and subscriptions happened (repeats included), counts never grow
    down the funnel and every rate is within [0, 1]."""
    steps = audience_funnel(visitors, followers, tiers)

    counts = [s.count for s in steps]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == len(set(visitors) | set(followers) | set(tiers))
    assert counts[2] == len(tiers)
    assert all(0 <= s.rate <= 1 for s in steps if s.rate is not None)


@pytest.mark.parametrize("counts", [[], [1, 2, 3, 4], [1, 2, 3, 4, 5, 6]])
def test_funnel_needs_one_count_per_step(counts: list[int]) -> None:
    """Too few or too many counts is a programming error."""
    with pytest.raises(ValueError, match="one count per funnel step"):
        funnel(counts)


def test_fill_days_covers_the_window_oldest_first_with_zeros() -> None:
    """Thirty days ending today; days without plays are zero and days outside the window dropped."""
    today = date(2024, 6, 30)
    by_day = {today: 5, date(2024, 6, 1): 2, date(2024, 5, 31): 99}

    filled = fill_days(today, by_day)

    assert WINDOW_DAYS == 30
    assert list(filled) == [date(2024, 6, 1) + timedelta(days=n) for n in range(30)]
    assert filled[today] == 5
    assert filled[date(2024, 6, 1)] == 2
    assert sum(filled.values()) == 7


def test_fill_days_takes_a_window_length() -> None:
    """A shorter window for a sparkline."""
    assert fill_days(date(2024, 1, 2), {}, days=2) == {date(2024, 1, 1): 0, date(2024, 1, 2): 0}
