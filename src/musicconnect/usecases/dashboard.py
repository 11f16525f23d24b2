"""The artist's dashboard: plays and revenue per day, top fans, and the conversion funnel."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from musicconnect.domain.accounts import Caller
from musicconnect.domain.analytics import WINDOW_DAYS, Dashboard, FanScore, fill_days, funnel
from musicconnect.domain.ledger import TransactionKind
from musicconnect.domain.subscriptions import effective_tier
from musicconnect.domain.tiers import Tier
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
        spend: dict[str, int] = defaultdict(int)
        window_start = datetime.combine(first_day, time.min, tzinfo=UTC)
        for transaction in uow.ledger.of_artist(artist_id):
            if transaction.kind not in {TransactionKind.CHARGE, TransactionKind.REFUND}:
                continue
            if transaction.gross is None or transaction.gross.currency != currency:
                continue
            if transaction.fan_id:
                spend[transaction.fan_id] += transaction.gross.amount_minor
            if transaction.occurred_at >= window_start:
                revenue[transaction.occurred_at.date()] += transaction.gross.amount_minor

        live = uow.subscriptions.live_of_artist(artist_id)
        tiers = [effective_tier(s, now) for s in live]
        counts = [
            uow.fans.visitor_count(artist_id),
            uow.fans.follower_count(artist_id),
            len(tiers),
            sum(1 for t in tiers if t.includes(Tier.SUPPORTER)),
            sum(1 for t in tiers if t is Tier.SUPERFAN),
        ]
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
        top_fans_by_plays=tuple(FanScore(f, names[f], n) for f, n in top_by_plays),
        top_fans_by_spend=tuple(FanScore(f, names[f], n) for f, n in top_by_spend if n > 0),
        funnel=funnel(counts),
        unique_listeners_30d=listeners,
    )
