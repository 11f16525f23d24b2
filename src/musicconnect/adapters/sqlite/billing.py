"""Subscriptions, the double-entry ledger, payouts, and which webhooks were applied."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from musicconnect.adapters.sqlite._codec import (
    Connect,
    atomic,
    insert_or_conflict,
    instant,
    instant_or_none,
    plan_columns,
    read_instant,
    read_instant_or_none,
    read_money,
    read_plan,
)
from musicconnect.domain.errors import Conflict
from musicconnect.domain.ledger import Direction, Entry, Transaction, TransactionKind, artist_account
from musicconnect.domain.money import Money
from musicconnect.domain.payments import Payout, PayoutStatus
from musicconnect.domain.subscriptions import Subscription, SubscriptionStatus

#: The subscription's own plan and the one scheduled for period end, in ``plan_columns`` order.
_PLAN: Final = ("tier", "plan_version", "price_minor", "currency", "features", "plan_effective_from")
_SCHEDULED_PLAN: Final = (
    "scheduled_tier",
    "scheduled_version",
    "scheduled_price_minor",
    "scheduled_currency",
    "scheduled_features",
    "scheduled_effective_from",
)
_SUBSCRIPTION_COLUMNS: Final = (
    "id",
    "fan_id",
    "artist_id",
    *_PLAN,
    "status",
    "current_period_start",
    "current_period_end",
    "created_at",
    "grace_days",
    "cancel_at_period_end",
    *_SCHEDULED_PLAN,
    "past_due_since",
    "canceled_at",
    "external_ref",
    "last_event_at",
)
_INSERT_SUBSCRIPTION: Final = (
    f"INSERT INTO subscriptions ({', '.join(_SUBSCRIPTION_COLUMNS)})"  # noqa: S608 - fixed columns
    f" VALUES ({', '.join(':' + c for c in _SUBSCRIPTION_COLUMNS)})"
)
_UPSERT_SUBSCRIPTION: Final = f"{_INSERT_SUBSCRIPTION} ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in _SUBSCRIPTION_COLUMNS if c != "id"
)
_PAID_UP: Final = (SubscriptionStatus.ACTIVE.value, SubscriptionStatus.TRIALING.value)


class SqliteSubscriptionRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, subscription: Subscription) -> None:
        insert_or_conflict(
            self._connect(),
            _INSERT_SUBSCRIPTION,
            _subscription_columns(subscription),
            _live_conflict(subscription),
        )

    def save(self, subscription: Subscription) -> None:
        # Saving may revive a subscription beside another live one: the partial index says no.
        insert_or_conflict(
            self._connect(),
            _UPSERT_SUBSCRIPTION,
            _subscription_columns(subscription),
            _live_conflict(subscription),
        )

    def get(self, subscription_id: str) -> Subscription | None:
        return self._one("SELECT * FROM subscriptions WHERE id = ?", (subscription_id,))

    def live_for(self, fan_id: str, artist_id: str) -> Subscription | None:
        return self._one(
            "SELECT * FROM subscriptions WHERE fan_id = ? AND artist_id = ? AND status != 'canceled'",
            (fan_id, artist_id),
        )

    def by_external_ref(self, external_ref: str) -> Subscription | None:
        return self._one(
            "SELECT * FROM subscriptions WHERE external_ref = ? ORDER BY created_at DESC LIMIT 1",
            (external_ref,),
        )

    def of_fan(self, fan_id: str) -> Sequence[Subscription]:
        return self._many(
            "SELECT * FROM subscriptions WHERE fan_id = ? ORDER BY created_at, rowid",
            (fan_id,),
        )

    def live_of_artist(self, artist_id: str) -> Sequence[Subscription]:
        return self._many(
            "SELECT * FROM subscriptions WHERE artist_id = ? AND status != 'canceled'"
            " ORDER BY created_at, rowid",
            (artist_id,),
        )

    def due_for_renewal(self, now: datetime) -> Sequence[Subscription]:
        return self._many(
            "SELECT * FROM subscriptions WHERE status IN (?, ?) AND current_period_end <= ?"
            " ORDER BY current_period_end, rowid",
            (*_PAID_UP, instant(now)),
        )

    def _one(self, sql: str, parameters: tuple[Any, ...]) -> Subscription | None:
        row = self._connect().execute(sql, parameters).fetchone()
        return None if row is None else _subscription(row)

    def _many(self, sql: str, parameters: tuple[Any, ...]) -> list[Subscription]:
        return [_subscription(row) for row in self._connect().execute(sql, parameters)]


def _live_conflict(subscription: Subscription) -> str:
    return (
        f"fan {subscription.fan_id!r} already has a live subscription to artist "
        f"{subscription.artist_id!r} (or subscription {subscription.id!r} exists)"
    )


def _subscription_columns(s: Subscription) -> dict[str, Any]:
    scheduled = plan_columns(s.scheduled_plan) if s.scheduled_plan else (None,) * len(_PLAN)
    return {
        "id": s.id,
        "fan_id": s.fan_id,
        "artist_id": s.artist_id,
        **dict(zip(_PLAN, plan_columns(s.plan), strict=True)),
        "status": s.status.value,
        "current_period_start": instant(s.current_period_start),
        "current_period_end": instant(s.current_period_end),
        "created_at": instant(s.created_at),
        "grace_days": s.grace_days,
        "cancel_at_period_end": int(s.cancel_at_period_end),
        **dict(zip(_SCHEDULED_PLAN, scheduled, strict=True)),
        "past_due_since": instant_or_none(s.past_due_since),
        "canceled_at": instant_or_none(s.canceled_at),
        "external_ref": s.external_ref,
        "last_event_at": instant_or_none(s.last_event_at),
    }


def _subscription(row: sqlite3.Row) -> Subscription:
    scheduled = None if row["scheduled_tier"] is None else read_plan([row[c] for c in _SCHEDULED_PLAN])
    return Subscription(
        id=row["id"],
        fan_id=row["fan_id"],
        artist_id=row["artist_id"],
        plan=read_plan([row[c] for c in _PLAN]),
        status=SubscriptionStatus(row["status"]),
        current_period_start=read_instant(row["current_period_start"]),
        current_period_end=read_instant(row["current_period_end"]),
        created_at=read_instant(row["created_at"]),
        grace_days=int(row["grace_days"]),
        cancel_at_period_end=bool(row["cancel_at_period_end"]),
        scheduled_plan=scheduled,
        past_due_since=read_instant_or_none(row["past_due_since"]),
        canceled_at=read_instant_or_none(row["canceled_at"]),
        external_ref=row["external_ref"],
        last_event_at=read_instant_or_none(row["last_event_at"]),
    )


#: Debits minus credits of one entry, in SQL.
_SIGNED: Final = "CASE direction WHEN 'debit' THEN amount_minor ELSE -amount_minor END"


class SqliteLedgerRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def record(self, transaction: Transaction) -> bool:
        connection = self._connect()
        gross = transaction.gross
        with atomic(connection):
            try:
                written = connection.execute(
                    "INSERT INTO ledger_transactions (id, idempotency_key, kind, occurred_at,"
                    " artist_id, fan_id, gross_minor, gross_currency, memo)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (idempotency_key) DO NOTHING",
                    (
                        transaction.id,
                        transaction.idempotency_key,
                        transaction.kind.value,
                        instant(transaction.occurred_at),
                        transaction.artist_id,
                        transaction.fan_id,
                        None if gross is None else gross.amount_minor,
                        None if gross is None else gross.currency,
                        transaction.memo,
                    ),
                ).rowcount
            except sqlite3.IntegrityError as error:
                # The key is new but the id is not: two transactions must not share an id.
                raise Conflict(f"ledger transaction {transaction.id!r} exists") from error
            if not written:
                return False
            connection.executemany(
                "INSERT INTO ledger_entries"
                " (transaction_id, position, account, direction, amount_minor, currency)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        transaction.id,
                        position,
                        entry.account,
                        entry.direction.value,
                        entry.amount.amount_minor,
                        entry.amount.currency,
                    )
                    for position, entry in enumerate(transaction.entries)
                ],
            )
        return True

    def by_key(self, idempotency_key: str) -> Transaction | None:
        found = self._transactions(
            "SELECT * FROM ledger_transactions WHERE idempotency_key = ?",
            (idempotency_key,),
        )
        return found[0] if found else None

    def balance(self, account: str, currency: str) -> int:
        row = (
            self._connect()
            .execute(
                f"SELECT COALESCE(SUM({_SIGNED}), 0) FROM ledger_entries"  # noqa: S608 - fixed SQL
                " WHERE account = ? AND currency = ?",
                (account, currency),
            )
            .fetchone()
        )
        return int(row[0])

    def currencies_of(self, account: str) -> Sequence[str]:
        rows = self._connect().execute(
            "SELECT DISTINCT currency FROM ledger_entries WHERE account = ? ORDER BY currency",
            (account,),
        )
        return [str(row[0]) for row in rows]

    def of_artist(
        self,
        artist_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[Transaction]:
        # An artist's transactions: those naming the artist and those moving their account.
        return self._transactions(
            "SELECT * FROM ledger_transactions WHERE id IN ("
            "  SELECT id FROM ledger_transactions WHERE artist_id = :artist"
            "  UNION SELECT transaction_id FROM ledger_entries WHERE account = :account)"
            " AND (:since IS NULL OR occurred_at >= :since)"
            " AND (:until IS NULL OR occurred_at < :until)"
            " ORDER BY occurred_at, rowid",
            {
                "artist": artist_id,
                "account": artist_account(artist_id),
                "since": instant_or_none(since),
                "until": instant_or_none(until),
            },
        )

    def of_fan(self, fan_id: str) -> Sequence[Transaction]:
        return self._transactions(
            "SELECT * FROM ledger_transactions WHERE fan_id = ? ORDER BY occurred_at, rowid", (fan_id,)
        )

    def trial_balance(self) -> dict[str, int]:
        rows = self._connect().execute(
            f"SELECT currency, SUM({_SIGNED}) FROM ledger_entries"  # noqa: S608 - fixed SQL
            " GROUP BY currency ORDER BY currency",
        )
        return {str(currency): int(total) for currency, total in rows}

    def artists_with_balance(self) -> Sequence[str]:
        prefix = artist_account("")
        # A range on the prefix (':' + 1 is ';') lets the account index answer it.
        rows = self._connect().execute(
            f"SELECT DISTINCT substr(account, {len(prefix) + 1}) AS artist_id FROM ("  # noqa: S608
            f"  SELECT account FROM ledger_entries WHERE account >= ? AND account < ?"
            f"  GROUP BY account, currency HAVING SUM({_SIGNED}) != 0"
            ") ORDER BY artist_id",
            (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)),
        )
        return [str(row[0]) for row in rows]

    def _transactions(self, sql: str, parameters: tuple[Any, ...] | dict[str, Any]) -> list[Transaction]:
        connection = self._connect()
        rows = connection.execute(sql, parameters).fetchall()
        if not rows:
            return []
        entries: dict[str, list[Entry]] = defaultdict(list)
        ids = [row["id"] for row in rows]
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" * len(chunk))
            for entry in connection.execute(
                "SELECT transaction_id, account, direction, amount_minor, currency"  # noqa: S608
                f" FROM ledger_entries WHERE transaction_id IN ({marks})"  # only placeholders
                " ORDER BY transaction_id, position",
                chunk,
            ):
                entries[entry["transaction_id"]].append(
                    Entry(
                        account=entry["account"],
                        direction=Direction(entry["direction"]),
                        amount=Money(int(entry["amount_minor"]), entry["currency"]),
                    ),
                )
        return [
            Transaction(
                id=row["id"],
                kind=TransactionKind(row["kind"]),
                idempotency_key=row["idempotency_key"],
                occurred_at=read_instant(row["occurred_at"]),
                entries=tuple(entries[row["id"]]),
                artist_id=row["artist_id"],
                fan_id=row["fan_id"],
                gross=read_money(row["gross_minor"], row["gross_currency"]),
                memo=row["memo"],
            )
            for row in rows
        ]


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class SqlitePayoutRepository:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def add(self, payout: Payout) -> None:
        insert_or_conflict(
            self._connect(),
            "INSERT INTO payouts (id, artist_id, period, amount_minor, currency, gross_minor,"
            " gross_currency, platform_fee_minor, platform_fee_currency, paid_at, external_ref,"
            " status, arrived_at, processor_fee_minor)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                payout.id,
                payout.artist_id,
                payout.period,
                payout.amount.amount_minor,
                payout.amount.currency,
                payout.gross.amount_minor,
                payout.gross.currency,
                payout.platform_fee.amount_minor,
                payout.platform_fee.currency,
                instant(payout.paid_at),
                payout.external_ref,
                payout.status.value,
                instant_or_none(payout.arrived_at),
                None if payout.processor_fee is None else payout.processor_fee.amount_minor,
            ),
            f"payout {payout.id!r} exists",
        )

    def save(self, payout: Payout) -> None:
        # Only its news changes: the amounts of a payout sent are history.
        self._connect().execute(
            "UPDATE payouts SET status = ?, arrived_at = ?, external_ref = ? WHERE id = ?",
            (payout.status.value, instant_or_none(payout.arrived_at), payout.external_ref, payout.id),
        )

    def by_external_ref(self, external_ref: str) -> Payout | None:
        row = (
            self._connect()
            .execute("SELECT * FROM payouts WHERE external_ref = ?", (external_ref,))
            .fetchone()
        )
        return None if row is None else _payout(row)

    def of_artist(self, artist_id: str) -> Sequence[Payout]:
        rows = self._connect().execute(
            "SELECT * FROM payouts WHERE artist_id = ? ORDER BY paid_at DESC, rowid DESC",
            (artist_id,),
        )
        return [_payout(row) for row in rows]

    def last_of_artist(self, artist_id: str) -> Payout | None:
        row = (
            self._connect()
            .execute(
                "SELECT * FROM payouts WHERE artist_id = ? ORDER BY paid_at DESC, rowid DESC LIMIT 1",
                (artist_id,),
            )
            .fetchone()
        )
        return None if row is None else _payout(row)


def _payout(row: sqlite3.Row) -> Payout:
    return Payout(
        id=row["id"],
        artist_id=row["artist_id"],
        period=row["period"],
        amount=Money(int(row["amount_minor"]), row["currency"]),
        gross=Money(int(row["gross_minor"]), row["gross_currency"]),
        platform_fee=Money(int(row["platform_fee_minor"]), row["platform_fee_currency"]),
        paid_at=read_instant(row["paid_at"]),
        external_ref=row["external_ref"],
        status=PayoutStatus(row["status"]),
        arrived_at=read_instant_or_none(row["arrived_at"]),
        processor_fee=_minor_or_none(row["processor_fee_minor"], row["currency"]),
    )


def _minor_or_none(minor: int | None, currency: str) -> Money | None:
    return None if minor is None else Money(int(minor), currency)


class SqliteProcessedEventStore:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def mark(self, event_id: str, at: datetime) -> bool:
        written = (
            self._connect()
            .execute(
                "INSERT INTO processed_events (event_id, processed_at) VALUES (?, ?)"
                " ON CONFLICT (event_id) DO NOTHING",
                (event_id, instant(at)),
            )
            .rowcount
        )
        return bool(written)

    def seen(self, event_id: str) -> bool:
        row = (
            self._connect()
            .execute("SELECT 1 FROM processed_events WHERE event_id = ?", (event_id,))
            .fetchone()
        )
        return row is not None
