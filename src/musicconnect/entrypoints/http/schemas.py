"""The API's edge types: request and response bodies. Domain objects are never serialised directly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from musicconnect.domain.accounts import Account, Artist
from musicconnect.domain.analytics import Dashboard
from musicconnect.domain.live import LiveSession
from musicconnect.domain.messages import DirectMessage
from musicconnect.domain.payments import Payout
from musicconnect.domain.subscriptions import Subscription
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.domain.tracks import Track, TrackEdit
from musicconnect.ports.services import TokenPair

#: JavaScript clients read JSON integers exactly only up to 2**53 - 1.
MAX_MINOR: Final = 2**53 - 1

TierName = Literal["free", "supporter", "superfan"]
ShortText = Annotated[str, Field(max_length=1000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def input_models() -> list[type[BaseModel]]:
    """Every request body model: they all refuse fields they do not declare."""
    found: list[type[BaseModel]] = []
    waiting: list[type[BaseModel]] = [_In]
    while waiting:
        for model in waiting.pop().__subclasses__():
            found.append(model)
            waiting.append(model)
    return found


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorBody(_Out):
    error: str = Field(description="A stable machine-readable code, e.g. `not_found`")
    detail: str = Field(description="What went wrong, for people")


# --- accounts -------------------------------------------------------------------------------


class RegisterIn(_In):
    email: ShortText
    password: ShortText
    role: Literal["artist", "fan"]
    display_name: ShortText


class RegisteredOut(_Out):
    id: str
    role: str

    @classmethod
    def of(cls, account: Account) -> RegisteredOut:
        return cls(id=account.id, role=account.role.value)


class TokenIn(_In):
    token: Annotated[str, Field(max_length=200)]


class EmailIn(_In):
    email: ShortText


class PasswordResetIn(_In):
    token: Annotated[str, Field(max_length=200)]
    password: ShortText


def iso_instant(value: object, field: str) -> object:
    """A JSON string read as an ISO 8601 instant, for a ``mode="before"`` validator: JSON has no
    datetime type, and strict validation refuses every string."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{field} must be an ISO 8601 date and time") from None
    return value


class TrackEditIn(_In):
    """What to change on a track; a field left out stays as it is."""

    title: Annotated[str | None, Field(max_length=400)] = None
    description: Annotated[str | None, Field(max_length=4000)] = None
    required_tier: Literal["free", "supporter", "superfan"] | None = None
    release_at: Annotated[
        datetime | None, Field(description="ISO 8601 with a timezone; null releases it at once")
    ] = None

    @field_validator("release_at", mode="before")
    @classmethod
    def _parse_instant(cls, value: object) -> object:
        return iso_instant(value, "release_at")

    def edit(self) -> TrackEdit:
        return TrackEdit(
            title=self.title,
            description=self.description,
            required_tier=None if self.required_tier is None else Tier(self.required_tier),
            release_at=self.release_at,
            # An explicit null (not a missing field) clears the date.
            clear_release="release_at" in self.model_fields_set and self.release_at is None,
        )


class AccountOut(_Out):
    id: str
    email: str
    email_verified: bool
    role: str
    display_name: str
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            id=account.id,
            email=account.email,
            email_verified=account.email_verified,
            role=account.role.value,
            display_name=account.display_name,
            created_at=account.created_at,
        )


class AccountChangeIn(_In):
    display_name: ShortText | None = None
    email: ShortText | None = None
    password: ShortText | None = None
    current_password: ShortText | None = None


class AccountEraseIn(_In):
    password: ShortText


class LoginIn(_In):
    email: ShortText
    password: ShortText


class RefreshIn(_In):
    refresh_token: Annotated[str, Field(max_length=4096)]


class LogoutIn(_In):
    refresh_token: Annotated[str, Field(max_length=4096)] | None = None


class TokenOut(_Out):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")

    @classmethod
    def of(cls, pair: TokenPair) -> TokenOut:
        return cls(
            access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
        )


# --- artists and tiers ----------------------------------------------------------------------


class TierPlanIn(_In):
    price_minor: int = Field(
        ge=0, le=MAX_MINOR, description="Integer minor units (cents); floats are refused"
    )
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    features: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=50)]


class TierPlansIn(_In):
    """Several tiers at once, by name: the way to move every paid tier to a new currency."""

    tiers: Annotated[dict[str, TierPlanIn], Field(min_length=1, max_length=3)]


class TierPlanOut(_Out):
    tier: str
    price_minor: int
    currency: str
    features: list[str]
    version: int

    @classmethod
    def of(cls, plan: TierPlan) -> TierPlanOut:
        return cls(
            tier=plan.tier.value,
            price_minor=plan.price.amount_minor,
            currency=plan.price.currency,
            features=list(plan.features),
            version=plan.version,
        )


class ArtistOut(_Out):
    id: str
    display_name: str
    bio: str = ""
    links: list[str] = Field(default_factory=list)
    tiers: list[TierPlanOut]
    followers: int | None = Field(default=None, description="How many fans follow the artist")
    image_url: str | None = Field(default=None, description="The profile picture (public), if any")

    @classmethod
    def of(cls, artist: Artist, *, followers: int | None = None) -> ArtistOut:
        return cls(
            id=artist.id,
            display_name=artist.display_name,
            bio=artist.bio,
            links=list(artist.links),
            tiers=[TierPlanOut.of(p) for p in artist.plans],
            followers=followers,
            image_url=picture_url(artist),
        )


class ArtistListOut(_Out):
    """A page of ``GET /artists``: each artist as their page shows them (no follower count)."""

    artists: list[ArtistOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


def picture_url(artist: Artist) -> str | None:
    """Where the artist's picture is served; the stored name in the query, so a new picture is a
    new URL that no cache has seen."""
    if artist.image_key is None:
        return None
    return f"/artists/{artist.id}/image?v={artist.image_key.rsplit('/', 2)[-2]}"


class ProfileIn(_In):
    """The artist's bio (line breaks kept) and up to five http or https links; both replace what was there."""

    bio: str = Field(default="", max_length=4000)
    links: list[str] = Field(default_factory=list, max_length=10)


# --- tracks ---------------------------------------------------------------------------------


class TrackAcceptedOut(_Out):
    track_id: str
    status: str


class RungRateOut(_Out):
    """A published rung: its nominal rate and what its segments measure, in kbps."""

    kbps: int
    average_kbps: float
    peak_kbps: float


class TrackOut(_Out):
    id: str
    artist_id: str
    title: str
    status: str
    duration_s: float | None
    rungs_kbps: list[int]
    rungs: list[RungRateOut]
    release_at: datetime | None
    exclusive: bool
    required_tier: str
    description: str
    failure_reason: str | None
    likes: int | None = Field(default=None, description="How many fans like it (on a track's own view)")

    @classmethod
    def of(cls, track: Track, *, likes: int | None = None) -> TrackOut:
        return cls(
            id=track.id,
            artist_id=track.artist_id,
            title=track.title,
            status=track.status.value,
            duration_s=track.duration_s,
            rungs_kbps=list(track.rungs_kbps),
            rungs=[
                RungRateOut(kbps=r.kbps, average_kbps=r.average_kbps, peak_kbps=r.peak_kbps)
                for r in track.rates
            ],
            release_at=track.release_at,
            exclusive=track.exclusive,
            required_tier=track.required_tier.value,
            description=track.description,
            failure_reason=track.failure_reason,
            likes=likes,
        )


# --- subscriptions --------------------------------------------------------------------------


#: Return addresses are the client's own web pages: http(s) only (never ``javascript:`` and the
#: like), and a URL longer than this is not one.
ReturnUrl = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s/?#]+[^\s]*$")]


class TierIn(_In):
    tier: TierName
    success_url: ReturnUrl | None = Field(
        default=None, description="Where the processor's payment page sends the fan after paying"
    )
    cancel_url: ReturnUrl | None = Field(
        default=None, description="Where the processor's payment page sends the fan who gives up"
    )


class SubscriptionOut(_Out):
    id: str
    artist_id: str
    fan_id: str
    tier: str
    status: str
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    pending_tier: str | None
    price_minor: int
    currency: str

    @classmethod
    def fields_of(cls, subscription: Subscription) -> dict[str, object]:
        pending = subscription.pending_tier
        return {
            "id": subscription.id,
            "artist_id": subscription.artist_id,
            "fan_id": subscription.fan_id,
            "tier": subscription.tier.value,
            "status": subscription.status.value,
            "current_period_start": subscription.current_period_start,
            "current_period_end": subscription.current_period_end,
            "cancel_at_period_end": subscription.cancel_at_period_end,
            "pending_tier": pending.value if pending else None,
            "price_minor": subscription.price.amount_minor,
            "currency": subscription.price.currency,
        }

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionOut:
        return cls.model_validate(cls.fields_of(subscription))


class TierChangeOut(SubscriptionOut):
    charged_minor: int = Field(
        description="What was charged now: the first month, or the prorated difference on an upgrade"
    )
    checkout_url: str | None = Field(
        default=None,
        description="When set, the fan pays on this page first; the subscription changes once paid",
    )


# --- engagement -----------------------------------------------------------------------------


class MessageIn(_In):
    body: Annotated[str, Field(max_length=10_000)]


class MessageOut(_Out):
    id: str
    sent_at: datetime

    @classmethod
    def of(cls, message: DirectMessage) -> MessageOut:
        return cls(id=message.id, sent_at=message.sent_at)


class InboxMessageOut(_Out):
    id: str
    fan_id: str
    body: str
    sent_at: datetime

    @classmethod
    def of(cls, message: DirectMessage) -> InboxMessageOut:
        return cls(id=message.id, fan_id=message.fan_id, body=message.body, sent_at=message.sent_at)


# --- dashboard ------------------------------------------------------------------------------


class FanPlaysOut(_Out):
    fan_id: str
    display_name: str
    plays: int


class FanSpendOut(_Out):
    fan_id: str
    display_name: str
    spend_minor: int


class TopFansOut(_Out):
    by_plays: list[FanPlaysOut]
    by_spend: list[FanSpendOut]


class FunnelStepOut(_Out):
    name: str
    count: int
    rate: float | None = Field(description="Share of the previous step that reached this one")


class FunnelOut(_Out):
    steps: list[FunnelStepOut]
    profile_visitors: int
    followers: int
    free_subscribers: int
    supporters: int
    superfans: int


class RevenueOut(_Out):
    gross_minor: int = Field(description="What fans paid, net of refunds")
    net_minor: int = Field(description="The artist's share: the gross less the platform's 10 %")


class DashboardOut(_Out):
    plays_30d: dict[str, int] = Field(description="Plays per UTC day, YYYY-MM-DD, oldest first")
    revenue_30d: dict[str, int] = Field(
        description="What fans paid per UTC day (gross, net of refunds), in minor units of `currency`"
    )
    revenue_net_30d: dict[str, int] = Field(
        description="The artist's share per UTC day: the gross less the platform's 10 %"
    )
    revenue_by_currency: dict[str, RevenueOut] = Field(
        description="The 30 days' gross and net in every currency fans paid in"
    )
    unique_listeners_30d: int = Field(description="Distinct fans who played the artist in those 30 days")
    currency: str = Field(description="The currency of the daily series: the artist's current one")
    top_fans: TopFansOut
    conversion_funnel: FunnelOut

    @classmethod
    def of(cls, dashboard: Dashboard) -> DashboardOut:
        counts = {step.name: step.count for step in dashboard.funnel}
        return cls(
            plays_30d={day.isoformat(): n for day, n in dashboard.plays_30d.items()},
            revenue_30d={day.isoformat(): n for day, n in dashboard.revenue_30d.items()},
            revenue_net_30d={day.isoformat(): n for day, n in dashboard.revenue_net_30d.items()},
            revenue_by_currency={
                r.currency: RevenueOut(gross_minor=r.gross_minor, net_minor=r.net_minor)
                for r in dashboard.revenue_by_currency
            },
            unique_listeners_30d=dashboard.unique_listeners_30d,
            currency=dashboard.currency,
            top_fans=TopFansOut(
                by_plays=[
                    FanPlaysOut(fan_id=f.fan_id, display_name=f.display_name, plays=f.value)
                    for f in dashboard.top_fans_by_plays
                ],
                by_spend=[
                    FanSpendOut(fan_id=f.fan_id, display_name=f.display_name, spend_minor=f.value)
                    for f in dashboard.top_fans_by_spend
                ],
            ),
            conversion_funnel=FunnelOut(
                steps=[FunnelStepOut(name=s.name, count=s.count, rate=s.rate) for s in dashboard.funnel],
                profile_visitors=counts.get("profile_visitors", 0),
                followers=counts.get("followers", 0),
                free_subscribers=counts.get("free_subscribers", 0),
                supporters=counts.get("supporters", 0),
                superfans=counts.get("superfans", 0),
            ),
        )


# --- money ----------------------------------------------------------------------------------


class PayoutRunIn(_In):
    period: Annotated[str, Field(max_length=7, description="YYYY-MM")]


class PaidOut(_Out):
    artist_id: str
    amount_minor: int
    gross_minor: int
    platform_fee_minor: int
    currency: str

    @classmethod
    def of(cls, payout: Payout) -> PaidOut:
        return cls(
            artist_id=payout.artist_id,
            amount_minor=payout.amount.amount_minor,
            gross_minor=payout.gross.amount_minor,
            platform_fee_minor=payout.platform_fee.amount_minor,
            currency=payout.amount.currency,
        )


class PayoutRunOut(_Out):
    period: str
    payouts: list[PaidOut]

    @classmethod
    def of(cls, period: str, payouts: Sequence[Payout]) -> PayoutRunOut:
        return cls(period=period, payouts=[PaidOut.of(p) for p in payouts])


class PayoutOut(_Out):
    """A payout receipt: what fans paid, the platform's 10 %, and what the artist receives."""

    id: str
    period: str
    amount_minor: int = Field(description="Sent to the artist (the same as net_minor)")
    gross_minor: int = Field(description="What fans paid, net of refunds, that this payout covers")
    platform_fee_minor: int
    processor_fee_minor: int | None = Field(
        description="What the payment processor kept on those charges (the platform bears it, the"
        " net is untouched); null when not known"
    )
    net_minor: int = Field(description="Gross less the platform's fee: what the artist receives")
    currency: str
    paid_at: datetime = Field(description="When it was sent")
    status: Literal["pending", "in_transit", "paid", "failed", "canceled"]
    arrived_at: datetime | None = Field(description="When it reached the artist's bank, once known")
    processor_ref: str | None = Field(description="The payment processor's id for this payout")

    @classmethod
    def of(cls, payout: Payout) -> PayoutOut:
        return cls(
            id=payout.id,
            period=payout.period,
            amount_minor=payout.amount.amount_minor,
            gross_minor=payout.gross.amount_minor,
            platform_fee_minor=payout.platform_fee.amount_minor,
            processor_fee_minor=None if payout.processor_fee is None else payout.processor_fee.amount_minor,
            net_minor=payout.net.amount_minor,
            currency=payout.amount.currency,
            paid_at=payout.paid_at,
            status=payout.status.value,
            arrived_at=payout.arrived_at,
            processor_ref=payout.external_ref,
        )


class BillingRunOut(_Out):
    renewed: int
    canceled: int
    past_due: int


class VerifiedOut(_Out):
    verified: Literal[True] = True
    detail: str = "your email address is confirmed"


class HealthOut(_Out):
    status: Literal["ok"] = "ok"


# --- live sessions --------------------------------------------------------------------------


class LiveSessionIn(_In):
    title: str = Field(min_length=1, max_length=200)
    starts_at: datetime = Field(description="ISO 8601 with a timezone")

    @field_validator("starts_at", mode="before")
    @classmethod
    def _parse_instant(cls, value: object) -> object:
        return iso_instant(value, "starts_at")


class LiveSessionOut(_Out):
    id: str
    artist_id: str
    title: str
    status: Literal["scheduled", "live", "ended", "failed"]
    starts_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    #: The track the recording became (superfans only), once it is ingested.
    recording_track_id: str | None
    failure_reason: str | None

    @classmethod
    def of(cls, session: LiveSession) -> LiveSessionOut:
        return cls(
            id=session.id,
            artist_id=session.artist_id,
            title=session.title,
            status=session.status.value,
            starts_at=session.starts_at,
            started_at=session.started_at,
            ended_at=session.ended_at,
            recording_track_id=session.recording_track_id,
            failure_reason=session.failure_reason,
        )


class LiveKeyOut(_Out):
    """Shown once: paste ``ingest_url`` into OBS as the server and ``stream_key`` as the key."""

    session: LiveSessionOut
    ingest_url: str
    stream_key: str
