"""Payment intents (money reserved before the processor is called, one row per idempotency key),
and the processor's ids for our parties."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from musicconnect.adapters.sqlite._codec import (
    Connect,
    insert_or_conflict,
    instant,
    instant_or_none,
    read_instant,
    read_instant_or_none,
)
from musicconnect.domain.money import Money
from musicconnect.domain.payments import IntentKind, IntentStatus, LinkKind, PaymentIntent, ProcessorLink
from musicconnect.domain.tiers import Tier

_COLUMNS: Final = (
    "key",
    "kind",
    "artist_id",
    "amount_minor",
    "currency",
    "created_at",
    "subscription_id",
    "fan_id",
    "tier",
    "plan_version",
    "status",
    "external_ref",
    "settled_at",
)
_INSERT: Final = (
    f"INSERT INTO payment_intents ({', '.join(_COLUMNS)})"  # noqa: S608 - fixed columns
    f" VALUES ({', '.join(':' + c for c in _COLUMNS)})"
)


class SqlitePaymentIntentRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, intent: PaymentIntent) -> None:
        insert_or_conflict(
            self._connect(), _INSERT, _columns(intent), f"a payment {intent.key!r} is already under way"
        )

    def get(self, key: str) -> PaymentIntent | None:
        row = self._connect().execute("SELECT * FROM payment_intents WHERE key = ?", (key,)).fetchone()
        return None if row is None else _intent(row)

    def save(self, intent: PaymentIntent) -> None:
        self._connect().execute(
            "UPDATE payment_intents SET status = :status, external_ref = :external_ref,"
            " settled_at = :settled_at WHERE key = :key",
            _columns(intent),
        )

    def of_subscription(self, subscription_id: str) -> Sequence[PaymentIntent]:
        rows = self._connect().execute(
            "SELECT * FROM payment_intents WHERE subscription_id = ? ORDER BY created_at, rowid",
            (subscription_id,),
        )
        return [_intent(row) for row in rows]

    def open_before(self, at: datetime) -> Sequence[PaymentIntent]:
        rows = self._connect().execute(
            "SELECT * FROM payment_intents WHERE status = ? AND created_at < ? ORDER BY created_at, rowid",
            (IntentStatus.OPEN.value, instant(at)),
        )
        return [_intent(row) for row in rows]


def _columns(intent: PaymentIntent) -> dict[str, Any]:
    return {
        "key": intent.key,
        "kind": intent.kind.value,
        "artist_id": intent.artist_id,
        "amount_minor": intent.amount.amount_minor,
        "currency": intent.amount.currency,
        "created_at": instant(intent.created_at),
        "subscription_id": intent.subscription_id,
        "fan_id": intent.fan_id,
        "tier": None if intent.tier is None else intent.tier.value,
        "plan_version": intent.plan_version,
        "status": intent.status.value,
        "external_ref": intent.external_ref,
        "settled_at": instant_or_none(intent.settled_at),
    }


def _intent(row: sqlite3.Row) -> PaymentIntent:
    return PaymentIntent(
        key=row["key"],
        kind=IntentKind(row["kind"]),
        artist_id=row["artist_id"],
        amount=Money(int(row["amount_minor"]), row["currency"]),
        created_at=read_instant(row["created_at"]),
        subscription_id=row["subscription_id"],
        fan_id=row["fan_id"],
        tier=None if row["tier"] is None else Tier(row["tier"]),
        plan_version=row["plan_version"],
        status=IntentStatus(row["status"]),
        external_ref=row["external_ref"],
        settled_at=read_instant_or_none(row["settled_at"]),
    )


class SqliteProcessorLinkRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def save(self, link: ProcessorLink) -> None:
        self._connect().execute(
            "INSERT INTO processor_links (kind, owner_id, external_ref, ready) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (kind, owner_id) DO UPDATE SET external_ref = excluded.external_ref,"
            " ready = excluded.ready",
            (link.kind.value, link.owner_id, link.external_ref, int(link.ready)),
        )

    def get(self, kind: LinkKind, owner_id: str) -> ProcessorLink | None:
        return self._one(
            "SELECT * FROM processor_links WHERE kind = ? AND owner_id = ?", (kind.value, owner_id)
        )

    def by_external_ref(self, kind: LinkKind, external_ref: str) -> ProcessorLink | None:
        return self._one(
            "SELECT * FROM processor_links WHERE kind = ? AND external_ref = ?", (kind.value, external_ref)
        )

    def _one(self, sql: str, parameters: tuple[str, str]) -> ProcessorLink | None:
        row = self._connect().execute(sql, parameters).fetchone()
        if row is None:
            return None
        return ProcessorLink(LinkKind(row["kind"]), row["owner_id"], row["external_ref"], bool(row["ready"]))
