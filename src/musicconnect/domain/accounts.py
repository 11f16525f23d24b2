"""People on the platform: accounts with a role, and the artist profile."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Final

import attrs

from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.tiers import Tier, TierPlan

_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH: Final = 8
DEFAULT_GRACE_DAYS: Final = 7


class Role(enum.StrEnum):
    ARTIST = "artist"
    FAN = "fan"
    ADMIN = "admin"


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 254:  # noqa: PLR2004 - RFC 5321 limit
        raise InvalidInput(f"not a valid email address: {email!r}")
    return cleaned


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def check_display_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 100:  # noqa: PLR2004
        raise InvalidInput("display_name must be 1 to 100 characters")
    return cleaned


@attrs.frozen
class Account:
    id: str
    email: str
    password_hash: str
    role: Role
    display_name: str
    created_at: datetime


@attrs.frozen
class Artist:
    """An artist's public profile: its tiers (latest price version of each) and its grace period."""

    id: str
    display_name: str
    plans: tuple[TierPlan, ...]
    grace_days: int = DEFAULT_GRACE_DAYS

    def plan(self, tier: Tier) -> TierPlan:
        for plan in self.plans:
            if plan.tier is tier:
                return plan
        raise InvalidInput(f"artist has no {tier} tier")

    def with_plan(self, plan: TierPlan) -> Artist:
        others = tuple(p for p in self.plans if p.tier is not plan.tier)
        ordered = tuple(sorted((*others, plan), key=lambda p: p.tier.rank))
        return attrs.evolve(self, plans=ordered)


@attrs.frozen
class Caller:
    """Who is asking: an authenticated account id and its role."""

    id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
