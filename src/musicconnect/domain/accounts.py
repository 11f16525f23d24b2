"""People on the platform: accounts with a role, and the artist profile."""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.errors import AuthenticationFailed, Conflict, InvalidInput
from musicconnect.domain.text import clean_text
from musicconnect.domain.tiers import Tier, TierPlan

_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_GRACE_DAYS: Final = 7
MAX_DISPLAY_NAME: Final = 100
MAX_BIO: Final = 2000
MAX_LINKS: Final = 5
MAX_LINK: Final = 300
_LINK: Final = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
ERASED_NAME: Final = "(erased)"


class Role(enum.StrEnum):
    ARTIST = "artist"
    FAN = "fan"
    ADMIN = "admin"


#: What a client may ask for at registration. Admin is granted only by an operator on the server.
SELF_SERVICE_ROLES: Final = frozenset({Role.ARTIST, Role.FAN})


def registrable_role(value: str) -> Role:
    """The role a registration asks for; InvalidInput for admin or anything unknown."""
    if value not in SELF_SERVICE_ROLES:
        raise InvalidInput("role must be 'artist' or 'fan'")
    return Role(value)


def role_of_token(value: str) -> Role:
    """The role a signed token claims; a role this release does not know is a bad token (401)."""
    try:
        return Role(value)
    except ValueError:
        raise AuthenticationFailed("the token names an unknown role") from None


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 254:  # noqa: PLR2004 - RFC 5321 limit
        raise InvalidInput(f"not a valid email address: {email!r}")
    return cleaned


def check_display_name(name: str) -> str:
    """The cleaned name; the erased marker is refused, as it is how an erased artist is known."""
    cleaned = clean_text(name, field="display_name", max_chars=MAX_DISPLAY_NAME)
    if cleaned.casefold() == ERASED_NAME.casefold():
        raise InvalidInput(f"{ERASED_NAME!r} is not a name anyone may take")
    return cleaned


@attrs.frozen
class Account:
    id: str
    email: str
    password_hash: str
    role: Role
    display_name: str
    created_at: datetime
    #: Set once the owner followed a link sent to ``email``.
    email_verified: bool = False
    #: Logins (token families) started before this instant are over: set by a password change,
    #: a reset and an erasure, so whoever else held a session loses it at their next refresh.
    sessions_valid_from: datetime | None = None

    def ending_sessions(self, now: datetime) -> Account:
        # Whole seconds, as tokens carry their issue time: a login in the same second survives.
        return attrs.evolve(self, sessions_valid_from=now.replace(microsecond=0))

    def admits_session_from(self, issued_at: datetime) -> bool:
        return not self.is_erased and (
            self.sessions_valid_from is None or issued_at >= self.sessions_valid_from
        )

    @property
    def is_erased(self) -> bool:
        return not self.password_hash

    def erased(self) -> Account:
        """What is left after the person asked to be forgotten: the id (which ledger rows and
        payouts point at, and which names nobody), nothing personal, no way to sign in."""
        return attrs.evolve(
            self,
            email=f"erased-{self.id}@erased.invalid",
            password_hash="",
            display_name=ERASED_NAME,
            email_verified=False,
        )


@attrs.frozen
class Artist:
    """An artist's public profile: its tiers (latest price version of each) and its grace period."""

    id: str
    display_name: str
    plans: tuple[TierPlan, ...]
    grace_days: int = DEFAULT_GRACE_DAYS
    #: What the artist says about themself, as they typed it (line breaks kept).
    bio: str = ""
    #: Their pages elsewhere (http or https URLs), in their order.
    links: tuple[str, ...] = ()
    #: The storage key of their profile picture (re-encoded when uploaded), None without one.
    image_key: str | None = None

    @property
    def is_erased(self) -> bool:
        """The artist asked to be forgotten: closed to fans (see ``usecases.engagement_data``)."""
        return self.display_name == ERASED_NAME

    def with_profile(self, *, bio: str, links: tuple[str, ...]) -> Artist:
        """The profile with a new bio and links; empty ones are allowed, odd ones refused."""
        cleaned_bio = clean_text(bio, field="bio", max_chars=MAX_BIO, multiline=True) if bio.strip() else ""
        cleaned = tuple(link.strip() for link in links if link.strip())
        if len(cleaned) > MAX_LINKS:
            raise InvalidInput(f"at most {MAX_LINKS} links")
        for link in cleaned:
            if len(link) > MAX_LINK or not _LINK.match(link):
                raise InvalidInput(f"a link must be an http or https URL: {link[:MAX_LINK]!r}")
            clean_text(link, field="link", max_chars=MAX_LINK)
        return attrs.evolve(self, bio=cleaned_bio, links=cleaned)

    def plan(self, tier: Tier) -> TierPlan:
        for plan in self.plans:
            if plan.tier is tier:
                return plan
        raise InvalidInput(f"artist has no {tier} tier")

    def with_plan(self, plan: TierPlan) -> Artist:
        """The profile with ``plan`` in place of its tier's (see ``with_plans``)."""
        return self.with_plans((plan,))

    def with_plans(self, plans: Iterable[TierPlan]) -> Artist:
        """The profile with each of ``plans`` in place of its tier's. The paid tiers share one
        currency (a fan compares them, and an upgrade is charged the difference), so a new
        currency must come for every paid tier at once: Conflict otherwise. Each tier must cost
        more than the one below it, or the upgrade path would be a downgrade in price."""
        new = {plan.tier: plan for plan in plans}
        ordered = tuple(
            sorted({**{p.tier: p for p in self.plans}, **new}.values(), key=lambda p: p.tier.rank)
        )
        currencies = {p.price.currency for p in ordered if p.tier is not Tier.FREE}
        if len(currencies) > 1:
            kept = sorted(
                {p.price.currency for p in ordered if p.tier not in new and p.tier is not Tier.FREE}
            )
            raise Conflict(
                f"the paid tiers share one currency ({', '.join(kept)}): to change it,"
                " set every paid tier at once in the new currency"
            )
        for lower, higher in itertools.pairwise(ordered):
            if lower.tier is not Tier.FREE and higher.price.amount_minor <= lower.price.amount_minor:
                raise InvalidInput(
                    f"the {higher.tier} tier must cost more than the {lower.tier} tier"
                    f" ({lower.price.format()})"
                )
        return attrs.evolve(self, plans=ordered)


@attrs.frozen
class Caller:
    """Who is asking: an authenticated account id and its role."""

    id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
