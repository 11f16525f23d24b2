"""Subscriptions, the double-entry ledger, payouts, and which webhooks were applied."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from bson.int64 import Int64

from musicconnect.adapters.mongo._codec import (
    Doc,
    instant_fields,
    key,
    micros,
    money_doc,
    money_or_none,
    plan_doc,
    put_instant,
    read_instant,
    read_instant_or_none,
    read_money,
    read_money_or_none,
    read_plan,
)
from musicconnect.adapters.mongo._work import EVENT_PHASE, LEDGER_PHASE, CurrentWork, Work
from musicconnect.adapters.mongo.database import LEDGER, PAYOUTS, PROCESSED_EVENTS, SUBSCRIPTIONS
from musicconnect.domain.errors import Conflict
from musicconnect.domain.ledger import Direction, Entry, Transaction, TransactionKind, artist_account
from musicconnect.domain.payments import Payout, PayoutStatus
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus

_OLDEST_FIRST: Final = (("created_at_us", 1), ("seq", 1))
_PAID_UP: Final = [SubscriptionStatus.ACTIVE.value, SubscriptionStatus.TRIALING.value]


def live_key(subscription: Subscription) -> str:
    """Unique per live (fan, artist) pair, and per subscription once it ended.

    A unique index on this one field keeps one live subscription per pair, in a single-document
    write that needs no transaction. (A partial unique index would say it more directly, but the
    test server ignores ``partialFilterExpression`` and would allow one subscription per pair ever.)
    """
    if subscription.is_live:
        return json.dumps(["live", subscription.fan_id, subscription.artist_id])
    return json.dumps(["ended", subscription.id])


class MongoSubscriptionRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, subscription: Subscription) -> None:
        work = self._work()
        conflict = _live_conflict(subscription)
        if work.find_one(SUBSCRIPTIONS, {"_id": subscription.id}) is not None:
            raise Conflict(conflict)
        self._check_alone(subscription)
        work.insert(SUBSCRIPTIONS, _subscription_doc(subscription), conflict=conflict, versioned=True)

    def save(self, subscription: Subscription) -> None:
        # Saving may revive a subscription beside another live one: the live_key index says no.
        self._check_alone(subscription)
        doc = _subscription_doc(subscription)
        self._work().save(SUBSCRIPTIONS, doc, conflict=_live_conflict(subscription))

    def get(self, subscription_id: str) -> Subscription | None:
        return self._one({"_id": subscription_id})

    def live_for(self, fan_id: str, artist_id: str) -> Subscription | None:
        return self._one({"fan_id": fan_id, "artist_id": artist_id, "live": True})

    def by_external_ref(self, external_ref: str) -> Subscription | None:
        docs = self._work().find(
            SUBSCRIPTIONS,
            {"external_ref": external_ref},
            sort=(("created_at_us", -1), ("seq", -1)),
            limit=1,
        )
        return _subscription(docs[0]) if docs else None

    def of_fan(self, fan_id: str) -> Sequence[Subscription]:
        return self._many({"fan_id": fan_id}, _OLDEST_FIRST)

    def live_of_artist(self, artist_id: str) -> Sequence[Subscription]:
        return self._many({"artist_id": artist_id, "live": True}, _OLDEST_FIRST)

    def due_for_renewal(self, now: datetime) -> Sequence[Subscription]:
        query = {"status": {"$in": _PAID_UP}, "current_period_end_us": {"$lte": micros(now)}}
        return self._many(query, (("current_period_end_us", 1), ("seq", 1)))

    def _check_alone(self, subscription: Subscription) -> None:
        if not subscription.is_live:
            return
        live = self.live_for(subscription.fan_id, subscription.artist_id)
        if live is not None and live.id != subscription.id:
            raise Conflict(_live_conflict(subscription))

    def _one(self, query: Doc) -> Subscription | None:
        doc = self._work().find_one(SUBSCRIPTIONS, query)
        return None if doc is None else _subscription(doc)

    def _many(self, query: Doc, sort: Sequence[tuple[str, int]]) -> list[Subscription]:
        return [_subscription(doc) for doc in self._work().find(SUBSCRIPTIONS, query, sort=sort)]


def _live_conflict(subscription: Subscription) -> str:
    return (
        f"fan {subscription.fan_id!r} already has a live subscription to artist "
        f"{subscription.artist_id!r} (or subscription {subscription.id!r} exists)"
    )


def _subscription_doc(s: Subscription) -> Doc:
    doc: Doc = {
        "_id": s.id,
        "fan_id": s.fan_id,
        "artist_id": s.artist_id,
        "plan": plan_doc(s.plan),
        "status": s.status.value,
        "live": s.is_live,
        "live_key": live_key(s),
        "grace_days": s.grace_days,
        "cancel_at_period_end": s.cancel_at_period_end,
        "scheduled_plan": None if s.scheduled_plan is None else plan_doc(s.scheduled_plan),
        "external_ref": s.external_ref,
    }
    put_instant(doc, "current_period_start", s.current_period_start)
    put_instant(doc, "current_period_end", s.current_period_end)
    put_instant(doc, "created_at", s.created_at)
    put_instant(doc, "past_due_since", s.past_due_since)
    put_instant(doc, "canceled_at", s.canceled_at)
    put_instant(doc, "last_event_at", s.last_event_at)
    return doc


def _subscription(doc: Doc) -> Subscription:
    scheduled = doc.get("scheduled_plan")
    return Subscription(
        id=doc["_id"],
        fan_id=doc["fan_id"],
        artist_id=doc["artist_id"],
        plan=read_plan(doc["plan"]),
        status=SubscriptionStatus(doc["status"]),
        current_period_start=read_instant(doc, "current_period_start"),
        current_period_end=read_instant(doc, "current_period_end"),
        created_at=read_instant(doc, "created_at"),
        grace_days=int(doc["grace_days"]),
        cancel_at_period_end=bool(doc["cancel_at_period_end"]),
        scheduled_plan=None if scheduled is None else read_plan(scheduled),
        past_due_since=read_instant_or_none(doc, "past_due_since"),
        canceled_at=read_instant_or_none(doc, "canceled_at"),
        external_ref=doc.get("external_ref"),
        last_event_at=read_instant_or_none(doc, "last_event_at"),
    )


class MongoLedgerRepository:
    """A document per transaction with its entries inside, so a transaction is written whole
    even without a multi-document transaction. Balances are summed over the entries, never
    kept as a second copy that a crash could leave out of step.

    The pipelines unwind the entries and project them to top-level fields before matching or
    grouping: the test server groups dotted paths into one group and cannot range-match inside
    arrays, and MongoDB answers the flat form just as well.
    """

    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def record(self, transaction: Transaction) -> bool:
        work = self._work()
        if work.find_one(LEDGER, {"idempotency_key": transaction.idempotency_key}) is not None:
            return False
        conflict = f"ledger transaction {transaction.id!r} exists"
        if work.find_one(LEDGER, {"_id": transaction.id}) is not None:
            # The key is new but the id is not: two transactions must not share an id.
            raise Conflict(conflict)
        # A racing record of the same key is refused at commit by the unique index, first of all.
        work.insert(LEDGER, _transaction_doc(transaction), conflict=conflict, phase=LEDGER_PHASE)
        return True

    def by_key(self, idempotency_key: str) -> Transaction | None:
        doc = self._work().find_one(LEDGER, {"idempotency_key": idempotency_key})
        return None if doc is None else _transaction(doc)

    def balance(self, account: str, currency: str) -> int:
        work = self._work()
        slot = key(account, currency)
        rows = work.aggregate(
            LEDGER,
            [
                {"$match": {"entries.slot": slot}},
                *_FLAT_ENTRIES,
                {"$match": {"slot": slot}},
                {"$group": {"_id": None, "total": {"$sum": "$signed"}}},
            ],
        )
        total = int(rows[0]["total"]) if rows else 0
        pending = sum(int(e["signed_minor"]) for e in _pending_entries(work) if e["slot"] == slot)
        return total + pending

    def currencies_of(self, account: str) -> Sequence[str]:
        work = self._work()
        rows = work.aggregate(
            LEDGER,
            [
                {"$match": {"entries.account": account}},
                *_FLAT_ENTRIES,
                {"$match": {"account": account}},
                {"$group": {"_id": "$currency"}},
            ],
        )
        currencies = {str(row["_id"]) for row in rows}
        currencies.update(e["currency"] for e in _pending_entries(work) if e["account"] == account)
        return sorted(currencies)

    def of_artist(
        self,
        artist_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[Transaction]:
        # An artist's transactions: those naming the artist and those moving their account.
        query: Doc = {"$or": [{"artist_id": artist_id}, {"entries.account": artist_account(artist_id)}]}
        window: dict[str, Any] = {}
        if since is not None:
            window["$gte"] = micros(since)
        if until is not None:
            window["$lt"] = micros(until)
        if window:
            query["occurred_at_us"] = window
        docs = self._work().find(LEDGER, query, sort=(("occurred_at_us", 1), ("seq", 1)))
        return [_transaction(doc) for doc in docs]

    def of_fan(self, fan_id: str) -> Sequence[Transaction]:
        docs = self._work().find(LEDGER, {"fan_id": fan_id}, sort=(("occurred_at_us", 1), ("seq", 1)))
        return [_transaction(doc) for doc in docs]

    def trial_balance(self) -> dict[str, int]:
        work = self._work()
        rows = work.aggregate(
            LEDGER,
            [*_FLAT_ENTRIES, {"$group": {"_id": "$currency", "total": {"$sum": "$signed"}}}],
        )
        totals = {str(row["_id"]): int(row["total"]) for row in rows}
        for entry in _pending_entries(work):
            totals[entry["currency"]] = totals.get(entry["currency"], 0) + int(entry["signed_minor"])
        return dict(sorted(totals.items()))

    def artists_with_balance(self) -> Sequence[str]:
        work = self._work()
        prefix = artist_account("")
        # A range on the prefix (':' + 1 is ';') selects the artists' accounts.
        artists = {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}
        rows = work.aggregate(
            LEDGER,
            [
                *_FLAT_ENTRIES,
                {"$match": {"account": artists}},
                {"$group": {"_id": "$slot", "account": {"$first": "$account"}, "total": {"$sum": "$signed"}}},
            ],
        )
        totals: defaultdict[tuple[str, str], int] = defaultdict(int)
        for row in rows:
            totals[row["account"], row["_id"]] += int(row["total"])
        for entry in _pending_entries(work):
            if entry["account"].startswith(prefix):
                totals[entry["account"], entry["slot"]] += int(entry["signed_minor"])
        owed = {account.removeprefix(prefix) for (account, _), total in totals.items() if total}
        return sorted(owed)


#: Each entry as a document of its own: {account, currency, slot, signed}.
_FLAT_ENTRIES: Final = (
    {"$unwind": "$entries"},
    {
        "$project": {
            "_id": 0,
            "account": "$entries.account",
            "currency": "$entries.currency",
            "slot": "$entries.slot",
            "signed": "$entries.signed_minor",
        }
    },
)


def _pending_entries(work: Work) -> list[Doc]:
    return [entry for doc in work.pending(LEDGER) for entry in doc["entries"]]


def _transaction_doc(transaction: Transaction) -> Doc:
    doc: Doc = {
        "_id": transaction.id,
        "idempotency_key": transaction.idempotency_key,
        "kind": transaction.kind.value,
        "artist_id": transaction.artist_id,
        "fan_id": transaction.fan_id,
        "gross": money_or_none(transaction.gross),
        "memo": transaction.memo,
        "entries": [
            {
                "account": entry.account,
                "direction": entry.direction.value,
                "amount_minor": Int64(entry.amount.amount_minor),
                "currency": entry.amount.currency,
                "signed_minor": Int64(entry.signed_minor),
                # One field naming (account, currency), to match and group on.
                "slot": key(entry.account, entry.amount.currency),
            }
            for entry in transaction.entries
        ],
    }
    put_instant(doc, "occurred_at", transaction.occurred_at)
    return doc


def _transaction(doc: Doc) -> Transaction:
    return Transaction(
        id=doc["_id"],
        kind=TransactionKind(doc["kind"]),
        idempotency_key=doc["idempotency_key"],
        occurred_at=read_instant(doc, "occurred_at"),
        entries=tuple(
            Entry(
                account=entry["account"],
                direction=Direction(entry["direction"]),
                amount=read_money(entry),
            )
            for entry in doc["entries"]
        ),
        artist_id=doc.get("artist_id"),
        fan_id=doc.get("fan_id"),
        gross=read_money_or_none(doc.get("gross")),
        memo=doc.get("memo", ""),
    )


class MongoPayoutRepository:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def add(self, payout: Payout) -> None:
        doc: Doc = {
            "_id": payout.id,
            "artist_id": payout.artist_id,
            "period": payout.period,
            "amount": money_doc(payout.amount),
            "gross": money_doc(payout.gross),
            "platform_fee": money_doc(payout.platform_fee),
            "processor_fee": None if payout.processor_fee is None else money_doc(payout.processor_fee),
            "external_ref": payout.external_ref,
        }
        put_instant(doc, "paid_at", payout.paid_at)
        self._work().insert_new(
            PAYOUTS, _status_fields(doc, payout), conflict=f"payout {payout.id!r} exists", versioned=True
        )

    def save(self, payout: Payout) -> None:
        work = self._work()
        found = work.find_one(PAYOUTS, {"_id": payout.id})
        if found is None:
            return
        work.save(
            PAYOUTS, _status_fields(dict(found), payout), conflict=f"payout {payout.id!r} changed meanwhile"
        )

    def by_external_ref(self, external_ref: str) -> Payout | None:
        found = self._work().find_one(PAYOUTS, {"external_ref": external_ref})
        return None if found is None else _payout(found)

    def of_artist(self, artist_id: str) -> Sequence[Payout]:
        return [_payout(doc) for doc in self._newest_first(artist_id, None)]

    def last_of_artist(self, artist_id: str) -> Payout | None:
        docs = self._newest_first(artist_id, 1)
        return _payout(docs[0]) if docs else None

    def _newest_first(self, artist_id: str, limit: int | None) -> list[Doc]:
        sort = (("paid_at_us", -1), ("seq", -1))
        return self._work().find(PAYOUTS, {"artist_id": artist_id}, sort=sort, limit=limit)


def _payout(doc: Doc) -> Payout:
    return Payout(
        id=doc["_id"],
        artist_id=doc["artist_id"],
        period=doc["period"],
        amount=read_money(doc["amount"]),
        gross=read_money(doc["gross"]),
        platform_fee=read_money(doc["platform_fee"]),
        paid_at=read_instant(doc, "paid_at"),
        external_ref=doc.get("external_ref"),
        status=PayoutStatus(doc.get("status", PayoutStatus.PAID.value)),
        arrived_at=read_instant_or_none(doc, "arrived_at"),
        processor_fee=None if doc.get("processor_fee") is None else read_money(doc["processor_fee"]),
    )


def _status_fields(doc: Doc, payout: Payout) -> Doc:
    doc["status"] = payout.status.value
    doc["external_ref"] = payout.external_ref
    put_instant(doc, "arrived_at", payout.arrived_at)
    return doc


class MongoProcessedEventStore:
    def __init__(self, work: CurrentWork) -> None:
        self._work = work

    def mark(self, event_id: str, at: datetime) -> bool:
        work = self._work()
        if work.find_one(PROCESSED_EVENTS, {"_id": event_id}) is not None:
            return False
        doc = {"_id": event_id, **instant_fields("processed_at", at)}
        # A racing mark of the same event is refused at commit, before anything else it wrote.
        conflict = f"event {event_id!r} was processed already"
        work.insert(PROCESSED_EVENTS, doc, conflict=conflict, phase=EVENT_PHASE)
        return True

    def seen(self, event_id: str) -> bool:
        return self._work().find_one(PROCESSED_EVENTS, {"_id": event_id}) is not None
