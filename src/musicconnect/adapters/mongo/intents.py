"""Payment intents (money reserved before the processor is called, one document per key), and
the processor's ids for our parties."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from musicconnect.adapters.mongo._codec import (
    micros,
    money_doc,
    put_instant,
    read_instant,
    read_instant_or_none,
    read_money,
)
from musicconnect.adapters.mongo._work import CurrentWork, Doc
from musicconnect.adapters.mongo.database import PAYMENT_INTENTS, PROCESSOR_LINKS
from musicconnect.domain.payments import IntentKind, IntentStatus, LinkKind, PaymentIntent, ProcessorLink
from musicconnect.domain.tiers import Tier

_OLDEST_FIRST = (("created_at_us", 1), ("seq", 1))


class MongoPaymentIntentRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, intent: PaymentIntent) -> None:
        # Two requests reserving the same key at once: the unique _id refuses one at commit.
        self._work().insert_new(
            PAYMENT_INTENTS,
            _doc(intent),
            conflict=f"a payment {intent.key!r} is already under way",
            versioned=True,
        )

    def get(self, key: str) -> PaymentIntent | None:
        doc = self._work().find_one(PAYMENT_INTENTS, {"_id": key})
        return None if doc is None else _intent(doc)

    def save(self, intent: PaymentIntent) -> None:
        self._work().save(PAYMENT_INTENTS, _doc(intent), conflict=f"payment {intent.key!r} changed meanwhile")

    def of_subscription(self, subscription_id: str) -> Sequence[PaymentIntent]:
        docs = self._work().find(PAYMENT_INTENTS, {"subscription_id": subscription_id}, sort=_OLDEST_FIRST)
        return [_intent(doc) for doc in docs]

    def open_before(self, at: datetime) -> Sequence[PaymentIntent]:
        query = {"status": IntentStatus.OPEN.value, "created_at_us": {"$lt": micros(at)}}
        return [_intent(doc) for doc in self._work().find(PAYMENT_INTENTS, query, sort=_OLDEST_FIRST)]


def _doc(intent: PaymentIntent) -> Doc:
    doc: Doc = {
        "_id": intent.key,
        "kind": intent.kind.value,
        "artist_id": intent.artist_id,
        "amount": money_doc(intent.amount),
        "subscription_id": intent.subscription_id,
        "fan_id": intent.fan_id,
        "tier": None if intent.tier is None else intent.tier.value,
        "plan_version": intent.plan_version,
        "status": intent.status.value,
        "external_ref": intent.external_ref,
    }
    put_instant(doc, "created_at", intent.created_at)
    put_instant(doc, "settled_at", intent.settled_at)
    return doc


def _intent(doc: Doc) -> PaymentIntent:
    return PaymentIntent(
        key=doc["_id"],
        kind=IntentKind(doc["kind"]),
        artist_id=doc["artist_id"],
        amount=read_money(doc["amount"]),
        created_at=read_instant(doc, "created_at"),
        subscription_id=doc.get("subscription_id"),
        fan_id=doc.get("fan_id"),
        tier=None if doc.get("tier") is None else Tier(doc["tier"]),
        plan_version=doc.get("plan_version"),
        status=IntentStatus(doc["status"]),
        external_ref=doc.get("external_ref"),
        settled_at=read_instant_or_none(doc, "settled_at"),
    )


class MongoProcessorLinkRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def save(self, link: ProcessorLink) -> None:
        doc: Doc = {
            "_id": f"{link.kind.value}:{link.owner_id}",
            "kind": link.kind.value,
            "owner_id": link.owner_id,
            "external_ref": link.external_ref,
            "ready": link.ready,
        }
        # An idempotent upsert: the last news about a party wins.
        self._work().upsert(PROCESSOR_LINKS, doc, {"$set": {k: v for k, v in doc.items() if k != "_id"}})

    def get(self, kind: LinkKind, owner_id: str) -> ProcessorLink | None:
        return _link(self._work().find_one(PROCESSOR_LINKS, {"_id": f"{kind.value}:{owner_id}"}))

    def by_external_ref(self, kind: LinkKind, external_ref: str) -> ProcessorLink | None:
        query = {"kind": kind.value, "external_ref": external_ref}
        return _link(self._work().find_one(PROCESSOR_LINKS, query))


def _link(doc: Doc | None) -> ProcessorLink | None:
    if doc is None:
        return None
    return ProcessorLink(LinkKind(doc["kind"]), doc["owner_id"], doc["external_ref"], bool(doc["ready"]))
