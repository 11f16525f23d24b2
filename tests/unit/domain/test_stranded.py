"""The one backoff rule every sweep of stranded work follows (tracks, backstage clips)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from musicconnect.domain.stranded import GIVE_UP_AFTER, REQUEUE_AFTER, SWEEP_EVERY, Verdict, verdict

waits = st.timedeltas(min_value=timedelta(0), max_value=GIVE_UP_AFTER * 3)


@given(waits)
def test_work_is_given_up_exactly_from_give_up_after(waited: timedelta) -> None:
    assert (verdict(waited) is Verdict.GIVE_UP) == (waited >= GIVE_UP_AFTER)


@given(waits)
def test_work_is_queued_again_only_within_two_sweeps_after_a_doubling_mark(waited: timedelta) -> None:
    marks = [REQUEUE_AFTER * 2**k for k in range(int(GIVE_UP_AFTER / REQUEUE_AFTER).bit_length())]
    at_a_mark = any(mark <= waited < mark + 2 * SWEEP_EVERY for mark in marks)
    expected = Verdict.GIVE_UP if waited >= GIVE_UP_AFTER else Verdict.REQUEUE if at_a_mark else Verdict.WAIT
    assert verdict(waited) is expected


def test_before_the_first_mark_work_waits() -> None:
    assert verdict(REQUEUE_AFTER - timedelta(microseconds=1)) is Verdict.WAIT
    assert verdict(REQUEUE_AFTER) is Verdict.REQUEUE
    assert verdict(REQUEUE_AFTER + 2 * SWEEP_EVERY) is Verdict.WAIT
    assert verdict(2 * REQUEUE_AFTER) is Verdict.REQUEUE
