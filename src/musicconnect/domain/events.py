"""Things that happened, named in the past tense. Use cases return them; adapters may publish them."""

from __future__ import annotations

from datetime import datetime

import attrs

from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier


@attrs.frozen
class SubscriptionStarted:
    subscription_id: str
    fan_id: str
    artist_id: str
    tier: Tier
    charged: Money


@attrs.frozen
class TierUpgraded:
    subscription_id: str
    from_tier: Tier
    to_tier: Tier
    prorated_charge: Money


@attrs.frozen
class TierChangeScheduled:
    subscription_id: str
    to_tier: Tier
    effective_at: datetime


@attrs.frozen
class TrackPublished:
    track_id: str
    artist_id: str
    rungs_kbps: tuple[int, ...]


@attrs.frozen
class PayoutPaid:
    payout_id: str
    artist_id: str
    period: str
    amount: Money


@attrs.frozen
class LiveSessionScheduled:
    """Followers with access to live sessions may be told (issue 13 wires the notifications)."""

    session_id: str
    artist_id: str
    title: str
    starts_at: datetime


@attrs.frozen
class LiveSessionStarted:
    session_id: str
    artist_id: str
    title: str
    started_at: datetime


@attrs.frozen
class LiveSessionEnded:
    session_id: str
    artist_id: str
    status: str
    ended_at: datetime


#: What an ``EventPublisher`` is given.
LiveSessionEvent = LiveSessionScheduled | LiveSessionStarted | LiveSessionEnded
