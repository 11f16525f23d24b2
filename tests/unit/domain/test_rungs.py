"""Which encoded rungs are published, and which of them a fan's cap picks."""

from __future__ import annotations

import pytest

from musicconnect.domain.entitlements import entitlements_for_tier
from musicconnect.domain.media import MIN_RUNG_STEP, RungRate, rising_rungs
from musicconnect.domain.tiers import Tier


def rates(*measured: float) -> list[RungRate]:
    return [RungRate(kbps, avg, avg) for kbps, avg in zip((128, 256, 320), measured, strict=False)]


def test_rich_music_keeps_the_whole_ladder() -> None:
    """Rungs that each beat the one below are all published."""
    assert [r.kbps for r in rising_rungs(rates(130.7, 259.1, 320.7))] == [128, 256, 320]


def test_a_top_rung_that_lands_below_the_one_under_it_is_dropped() -> None:
    """The issue's numbers: 114 / 203 / 175 kbps publish 128k and 256k, not the track's failure."""
    assert [r.kbps for r in rising_rungs(rates(114, 203, 175))] == [128, 256]


def test_a_rung_barely_above_the_one_below_is_not_worth_a_switch() -> None:
    """234 against 235 kbps is the same sound twice: only the lower rung stays."""
    assert [r.kbps for r in rising_rungs(rates(131, 234, 235))] == [128, 256]
    assert 234 * MIN_RUNG_STEP > 235


def test_silence_publishes_the_lowest_rung_alone() -> None:
    """Digital silence costs the same few kbps on every rung: one rung, still published."""
    assert [r.kbps for r in rising_rungs(rates(4.0, 4.0, 4.1))] == [128]


def test_a_dropped_middle_rung_leaves_the_next_rung_compared_with_the_one_kept() -> None:
    """A rung is compared with the last rung kept, not with a dropped one."""
    assert [r.kbps for r in rising_rungs(rates(130, 131, 200))] == [128, 320]


@pytest.mark.parametrize(
    ("tier", "published", "streamed"),
    [
        (Tier.SUPERFAN, (128, 256), (128, 256)),
        (Tier.SUPPORTER, (128, 320), (128,)),
        (Tier.FREE, (128,), (128,)),
        (Tier.SUPERFAN, (128,), (128,)),
    ],
)
def test_a_fans_cap_picks_the_best_published_rungs_at_or_below_it(
    tier: Tier, published: tuple[int, ...], streamed: tuple[int, ...]
) -> None:
    """A shorter ladder never lifts a fan above their cap, and never leaves them without a rung."""
    assert entitlements_for_tier(tier).allowed_rungs(published) == streamed
