"""Conversions between domain values and BSON documents shared by every repository.

Instants: BSON dates keep milliseconds only, so each instant ``x`` is stored twice: ``x`` as a BSON
date (for people, TTL indexes and date operators) and ``x_us`` as int64 microseconds since the
epoch, which is what the repositories read, compare and sort on, exactly.
Money: ``{amount_minor: int64, currency}``; never a double and never Decimal128.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bson.int64 import Int64

from musicconnect.domain.clocks import require_aware
from musicconnect.domain.money import Money
from musicconnect.domain.tiers import Tier, TierPlan

Doc = dict[str, Any]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def key(*parts: str) -> str:
    """A readable ``_id`` made of several ids: ``artist-1|2024-03-01``.

    ``%`` and ``|`` inside a part are escaped, so two different tuples never share a key.
    """
    return "|".join(part.replace("%", "%25").replace("|", "%7C") for part in parts)


def micros(moment: datetime) -> Int64:
    return Int64((require_aware(moment) - _EPOCH) // _MICROSECOND)


def put_instant(doc: Doc, name: str, moment: datetime | None) -> None:
    if moment is None:
        doc[name] = None
        doc[f"{name}_us"] = None
        return
    doc[name] = require_aware(moment)
    doc[f"{name}_us"] = micros(moment)


def instant_fields(name: str, moment: datetime) -> Doc:
    doc: Doc = {}
    put_instant(doc, name, moment)
    return doc


def read_instant(doc: Doc, name: str) -> datetime:
    return _EPOCH + int(doc[f"{name}_us"]) * _MICROSECOND


def read_instant_or_none(doc: Doc, name: str) -> datetime | None:
    value = doc.get(f"{name}_us")
    return None if value is None else _EPOCH + int(value) * _MICROSECOND


def money_doc(money: Money) -> Doc:
    return {"amount_minor": Int64(money.amount_minor), "currency": money.currency}


def money_or_none(money: Money | None) -> Doc | None:
    return None if money is None else money_doc(money)


def read_money(doc: Doc) -> Money:
    return Money(int(doc["amount_minor"]), str(doc["currency"]))


def read_money_or_none(doc: Doc | None) -> Money | None:
    return None if doc is None else read_money(doc)


def plan_doc(plan: TierPlan) -> Doc:
    doc: Doc = {
        "tier": plan.tier.value,
        "version": plan.version,
        "price": money_doc(plan.price),
        "features": list(plan.features),
    }
    put_instant(doc, "effective_from", plan.effective_from)
    return doc


def read_plan(doc: Doc) -> TierPlan:
    return TierPlan(
        tier=Tier(doc["tier"]),
        price=read_money(doc["price"]),
        features=tuple(str(f) for f in doc["features"]),
        version=int(doc["version"]),
        effective_from=read_instant_or_none(doc, "effective_from"),
    )


class _Sequence:
    """Insertion order, for ties in time: increasing within a process, roughly across processes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def __call__(self) -> Int64:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return Int64(self._last)


next_seq: Final = _Sequence()
