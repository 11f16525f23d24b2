"""Accounts, and artists whose document carries their current tiers; every plan version ever saved
lives in ``tier_plans``, written once."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from musicconnect.adapters.mongo._codec import (
    Doc,
    key,
    plan_doc,
    put_instant,
    read_instant,
    read_instant_or_none,
    read_plan,
)
from musicconnect.adapters.mongo._work import CurrentWork, Work
from musicconnect.adapters.mongo.database import ACCOUNTS, ARTISTS, TIER_PLANS
from musicconnect.domain.accounts import ERASED_NAME, Account, Artist, Role
from musicconnect.domain.errors import Conflict, InvalidInput
from musicconnect.domain.tiers import Tier, TierPlan


def _email_key(email: str) -> str:
    return email.strip().lower()


class MongoAccountRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, account: Account) -> None:
        work = self._work()
        conflict = f"an account with the email {account.email!r} or id {account.id!r} exists already"
        email_key = _email_key(account.email)
        if work.find_one(ACCOUNTS, {"_id": account.id}) or work.find_one(ACCOUNTS, {"email_key": email_key}):
            raise Conflict(conflict)
        # A racing registration is caught at commit by the unique index on email_key.
        work.insert(ACCOUNTS, _account_doc(account), conflict=conflict)

    def get(self, account_id: str) -> Account | None:
        doc = self._work().find_one(ACCOUNTS, {"_id": account_id})
        return None if doc is None else _account(doc)

    def by_email(self, email: str) -> Account | None:
        doc = self._work().find_one(ACCOUNTS, {"email_key": _email_key(email)})
        return None if doc is None else _account(doc)

    def save(self, account: Account) -> None:
        work = self._work()
        conflict = f"an account with the email {account.email!r} exists already"
        owner = work.find_one(ACCOUNTS, {"email_key": _email_key(account.email)})
        if owner is not None and owner["_id"] != account.id:
            raise Conflict(conflict)
        if work.find_one(ACCOUNTS, {"_id": account.id}) is None:
            raise Conflict(f"account {account.id!r} does not exist")
        # A racing change to the same email is caught at commit by the unique index on email_key.
        work.save(ACCOUNTS, _account_doc(account), conflict=conflict)


def _account_doc(account: Account) -> Doc:
    doc: Doc = {
        "_id": account.id,
        "email": account.email,
        "email_key": _email_key(account.email),
        "password_hash": account.password_hash,
        "role": account.role.value,
        "display_name": account.display_name,
        "email_verified": account.email_verified,
    }
    put_instant(doc, "created_at", account.created_at)
    put_instant(doc, "sessions_valid_from", account.sessions_valid_from)
    return doc


def _account(doc: Doc) -> Account:
    return Account(
        id=doc["_id"],
        email=doc["email"],
        password_hash=doc["password_hash"],
        role=Role(doc["role"]),
        display_name=doc["display_name"],
        created_at=read_instant(doc, "created_at"),
        email_verified=bool(doc.get("email_verified", False)),
        sessions_valid_from=read_instant_or_none(doc, "sessions_valid_from"),
    )


class MongoArtistRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, artist: Artist) -> None:
        work = self._work()
        conflict = f"artist {artist.id!r} exists already"
        if work.find_one(ARTISTS, {"_id": artist.id}) is not None:
            raise Conflict(conflict)
        new_versions = self._new_versions(work, artist)
        work.insert(ARTISTS, _artist_doc(artist), conflict=conflict, versioned=True)
        self._keep(work, artist.id, new_versions)

    def save(self, artist: Artist) -> None:
        work = self._work()
        new_versions = self._new_versions(work, artist)
        work.save(ARTISTS, _artist_doc(artist), conflict=f"artist {artist.id!r} could not be saved")
        self._keep(work, artist.id, new_versions)

    def get(self, artist_id: str) -> Artist | None:
        doc = self._work().find_one(ARTISTS, {"_id": artist_id})
        return None if doc is None else _read_artist(doc)

    def search(self, name: str, *, limit: int, after: str | None = None) -> Sequence[Artist]:
        # An erased artist is closed: never listed (``usecases.engagement_data``).
        key: Doc = {"$ne": ERASED_NAME.casefold()}
        if name:
            key["$regex"] = re.escape(name.casefold())
        query: Doc = {"name_key": key}
        last = self._work().find_one(ARTISTS, {"_id": after}) if after is not None else None
        if last is not None:
            query["$or"] = [
                {"name_key": {"$gt": last["name_key"]}},
                {"name_key": last["name_key"], "_id": {"$gt": after}},
            ]
        docs = self._work().find(ARTISTS, query, sort=(("name_key", 1), ("_id", 1)), limit=limit)
        return [_read_artist(doc) for doc in docs]

    def plan_version(self, artist_id: str, tier: Tier, version: int) -> TierPlan | None:
        doc = self._work().find_one(TIER_PLANS, {"_id": _plan_id(artist_id, tier, version)})
        return None if doc is None else read_plan(doc)

    @staticmethod
    def _new_versions(work: Work, artist: Artist) -> list[TierPlan]:
        """The artist's plans not stored yet; a stored version must keep its terms."""
        if len({plan.tier for plan in artist.plans}) != len(artist.plans):
            raise InvalidInput("an artist offers each tier once")
        new = []
        for plan in artist.plans:
            stored = work.find_one(TIER_PLANS, {"_id": _plan_id(artist.id, plan.tier, plan.version)})
            if stored is None:
                new.append(plan)
            elif read_plan(stored) != plan:
                raise Conflict(_changed_terms(plan))
        return new

    @staticmethod
    def _keep(work: Work, artist_id: str, plans: list[TierPlan]) -> None:
        for plan in plans:
            doc = {"_id": _plan_id(artist_id, plan.tier, plan.version), "artist_id": artist_id}
            doc.update(plan_doc(plan))
            # What a version's subscribers were sold is never rewritten, also by a racing save.
            work.keep(TIER_PLANS, doc, same=_same_terms(plan), conflict=_changed_terms(plan))


def _plan_id(artist_id: str, tier: Tier, version: int) -> str:
    return key(artist_id, tier.value, str(version))


def _same_terms(plan: TierPlan) -> Callable[[Doc], bool]:
    return lambda stored: read_plan(stored) == plan


def _changed_terms(plan: TierPlan) -> str:
    return (
        f"version {plan.version} of the {plan.tier} tier exists with other terms;"
        " a change needs a new version"
    )


def _read_artist(doc: Doc) -> Artist:
    return Artist(
        id=doc["_id"],
        display_name=doc["display_name"],
        plans=tuple(read_plan(plan) for plan in doc["plans"]),
        grace_days=int(doc["grace_days"]),
        bio=str(doc.get("bio", "")),
        links=tuple(doc.get("links", ())),
        image_key=doc.get("image_key"),
    )


def _artist_doc(artist: Artist) -> Doc:
    return {
        "_id": artist.id,
        "display_name": artist.display_name,
        # What a search by name compares: MongoDB's $regex has no case folding of its own.
        "name_key": artist.display_name.casefold(),
        "grace_days": artist.grace_days,
        "bio": artist.bio,
        "links": list(artist.links),
        "image_key": artist.image_key,
        "plans": [plan_doc(plan) for plan in artist.plans],
    }
