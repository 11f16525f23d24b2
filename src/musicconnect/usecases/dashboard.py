"""The artist's dashboard: plays and revenue per day, top fans, and the conversion funnel."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import attrs

from musicconnect.domain.accounts import Caller
from musicconnect.domain.analytics import (
    WINDOW_DAYS,
    Dashboard,
    FanScore,
    Revenue,
    audience_funnel,
    fill_days,
)
from musicconnect.domain.ledger import TransactionKind, artist_account
from musicconnect.domain.subscriptions import effective_tier
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock
from musicconnect.usecases.access import require_artist, require_owner

TOP_FANS = 10


def build_dashboard(artist_id: str, *, caller: Caller, uow: UnitOfWork, clock: Clock) -> Dashboard:
    require_owner(caller, artist_id)
    now = clock.now()
    today = now.date()
    first_day = today - timedelta(days=WINDOW_DAYS - 1)
    with uow:
        artist = require_artist(uow, artist_id)
        currency = artist.plans[-1].price.currency
        plays = uow.plays.daily_counts(artist_id, first_day, today)
        listeners = uow.plays.listeners(artist_id, first_day, today)
        top_by_plays = uow.plays.top_fans(artist_id, TOP_FANS)

        revenue: dict[date, int] = defaultdict(int)
        net: dict[date, int] = defaultdict(int)
        totals: dict[str, Revenue] = {}
        spend: dict[str, int] = defaultdict(int)
        window_start = datetime.combine(first_day, time.min, tzinfo=UTC)
        earnings = artist_account(artist_id)
        for transaction in uow.ledger.of_artist(artist_id):
            if transaction.kind not in {TransactionKind.CHARGE, TransactionKind.REFUND}:
                continue
            if transaction.gross is None:
                continue
            gross = transaction.gross.amount_minor
            # The artist's account is a liability: what they earn is credited, so negated here.
            share = -transaction.amount_for(earnings)
            recent = transaction.occurred_at >= window_start
            if recent:
                paid_in = transaction.gross.currency
                totals[paid_in] = totals.get(paid_in, Revenue(paid_in)).plus(gross, share)
            if transaction.gross.currency != currency:
                continue
            if transaction.fan_id:
                spend[transaction.fan_id] += gross
            if recent:
                revenue[transaction.occurred_at.date()] += gross
                net[transaction.occurred_at.date()] += share

        tiers = {s.fan_id: effective_tier(s, now) for s in uow.subscriptions.live_of_artist(artist_id)}
        steps = audience_funnel(uow.fans.visitors(artist_id), uow.fans.followers(artist_id), tiers)
        top_by_spend = sorted(spend.items(), key=lambda item: (-item[1], item[0]))[:TOP_FANS]
        names = {
            fan_id: (account.display_name if (account := uow.accounts.get(fan_id)) else fan_id)
            for fan_id in {f for f, _ in top_by_plays} | {f for f, _ in top_by_spend}
        }
    return Dashboard(
        artist_id=artist_id,
        currency=currency,
        plays_30d=fill_days(today, plays),
        revenue_30d=fill_days(today, revenue),
        revenue_net_30d=fill_days(today, net),
        revenue_by_currency=tuple(totals[c] for c in sorted(totals)),
        top_fans_by_plays=tuple(FanScore(f, names[f], n) for f, n in top_by_plays),
        top_fans_by_spend=tuple(FanScore(f, names[f], n) for f, n in top_by_spend if n > 0),
        funnel=steps,
        unique_listeners_30d=listeners,
    )


@attrs.frozen
class Dashboards:
    """The artist's statistics, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    clock: Clock

    def of_artist(self, artist_id: str, *, caller: Caller) -> Dashboard:
        """Plays and revenue of the last 30 days, top fans and the conversion funnel."""
        return build_dashboard(artist_id, caller=caller, uow=self.uow(), clock=self.clock)
