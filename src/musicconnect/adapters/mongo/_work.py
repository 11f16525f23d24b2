"""One open unit of work: writes buffered until commit, and reads that see them.

Writes are not sent when a repository is called but kept here as operations, and applied by
``commit``. Reads query the server and lay this unit of work's own pending documents over the
result, so a unit of work sees its own writes and nobody else does before the commit.

Commit, with transactions (replica set, Atlas): every operation inside one transaction, retried on
transient errors (failover, write conflicts) for ``commit_timeout_s``: all or nothing.

Commit without them (standalone server, the test server): operations run in an order that makes a
failure leave as little as possible behind, and every one is keyed by a natural id so a retry
finds what it needs:
1. ledger transactions, keyed and unique by idempotency key, so a duplicate stops the commit
   before any side effect;
2. processed webhook events, then every other new document (an insert that may meet a unique index);
3. plan versions (insert if absent, else the same terms or a Conflict);
4. saves of existing documents, each conditional on the revision this unit of work read;
5. idempotent upserts (follows, likes, visits);
6. play counters (``$inc``);
7. deletes (what an erased person leaves: idempotent, a retry deletes nothing more).
A Conflict in steps 1 to 4 undoes what this commit did before it (deletes its inserts, puts back
the documents its saves replaced), so a refused unit of work leaves nothing behind. What remains
is a crash or lost connection part-way through: documents are each written whole, but the commit
may stop between two of them, and the undo cannot reach a server that is gone. Play counters are
not idempotent, so a retried commit can count a play twice. Production runs on Atlas, where the
transaction removes both gaps.
"""

from __future__ import annotations

import contextlib
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
import pymongo
from pymongo import UpdateOne
from pymongo.client_session import ClientSession
from pymongo.database import Database
from pymongo.errors import PyMongoError
from pymongo.write_concern import WriteConcern

from musicconnect.adapters.mongo._codec import next_seq
from musicconnect.adapters.mongo.database import MongoDatabase, translate_errors
from musicconnect.domain.errors import Conflict

Doc = dict[str, Any]
Sort = Sequence[tuple[str, int]]
Undo = Callable[[], object]

# Commit phases (see the module docstring).
LEDGER_PHASE: Final = 0
EVENT_PHASE: Final = 1
INSERT_PHASE: Final = 2
KEEP_PHASE: Final = 3
SAVE_PHASE: Final = 4
UPSERT_PHASE: Final = 5
DELETE_PHASE: Final = 6
#: Marks a document this unit of work deleted: its reads no longer see it.
_GONE: Final = "__gone__"


class _Op(Protocol):
    collection: str
    phase: int

    def apply(self, db: Database[Doc], session: ClientSession | None) -> Undo | None: ...


@attrs.define
class _Insert:
    collection: str
    doc: Doc
    conflict: str
    phase: int = INSERT_PHASE

    def apply(self, db: Database[Doc], session: ClientSession | None) -> Undo | None:
        table = db[self.collection]
        with translate_errors(self.conflict):
            table.insert_one(self.doc, session=session)
        return lambda: table.delete_one({"_id": self.doc["_id"]})


@attrs.define
class _Keep:
    """Insert a document that is written once; an existing one must say the same."""

    collection: str
    doc: Doc
    same: Callable[[Doc], bool]
    conflict: str
    phase: int = KEEP_PHASE

    def apply(self, db: Database[Doc], session: ClientSession | None) -> Undo | None:
        table = db[self.collection]
        fields = {k: v for k, v in self.doc.items() if k != "_id"}
        # An upsert rather than an insert: a duplicate key would abort a whole transaction.
        with translate_errors(self.conflict):
            result = table.update_one(
                {"_id": self.doc["_id"]}, {"$setOnInsert": fields}, upsert=True, session=session
            )
            if result.upserted_id is not None:
                return lambda: table.delete_one({"_id": self.doc["_id"]})
            stored = table.find_one({"_id": self.doc["_id"]}, session=session)
        if stored is None or not self.same(stored):
            raise Conflict(self.conflict)
        return None


@attrs.define
class _Save:
    """Replace a document's fields; conditional on its revision when this unit of work read it."""

    collection: str
    doc: Doc
    #: The document as this unit of work read it (None: a blind save, last writer wins).
    read: Doc | None
    conflict: str
    phase: int = SAVE_PHASE

    def apply(self, db: Database[Doc], session: ClientSession | None) -> Undo | None:
        table = db[self.collection]
        doc_id = self.doc["_id"]
        fields = {k: v for k, v in self.doc.items() if k not in {"_id", "rev", "seq"}}
        with translate_errors(self.conflict):
            if self.read is None:
                result = table.update_one(
                    {"_id": doc_id},
                    {"$set": fields, "$inc": {"rev": 1}, "$setOnInsert": {"seq": self.doc["seq"]}},
                    upsert=True,
                    session=session,
                )
                if result.upserted_id is None:
                    return None
                return lambda: table.delete_one({"_id": doc_id})
            rev = self.read.get("rev", 0)
            result = table.update_one(
                {"_id": doc_id, "rev": rev}, {"$set": fields, "$inc": {"rev": 1}}, session=session
            )
        if result.matched_count == 0:
            raise Conflict(f"{self.collection} {doc_id!r} changed since it was read; try again")
        previous = self.read
        return lambda: table.replace_one({"_id": doc_id, "rev": rev + 1}, previous)


@attrs.define
class _Upsert:
    collection: str
    doc_id: str
    update: Doc
    phase: int = UPSERT_PHASE

    def apply(self, db: Database[Doc], session: ClientSession | None) -> Undo | None:
        with translate_errors():
            db[self.collection].update_one({"_id": self.doc_id}, self.update, upsert=True, session=session)
        return None


@attrs.define
class _Delete:
    collection: str
    doc_id: str
    phase: int = DELETE_PHASE

    def apply(self, db: Database[Doc], session: ClientSession | None) -> Undo | None:
        with translate_errors():
            db[self.collection].delete_one({"_id": self.doc_id}, session=session)
        return None


@attrs.define
class _Count:
    """A counter to add to, and the fields its document starts with."""

    on_insert: Doc
    by: int = 0


class Work:
    """The state of one open unit of work (one thread, one ``with`` block)."""

    def __init__(self, db: MongoDatabase) -> None:
        self.db = db
        self._ops: dict[tuple[str, str], _Op] = {}
        #: What each document written here looks like now, per collection, in write order.
        self._docs: defaultdict[str, dict[str, Doc]] = defaultdict(dict)
        self._counts: defaultdict[str, dict[str, _Count]] = defaultdict(dict)
        #: Versioned documents as first read from the server, for conditional saves.
        self._read: dict[tuple[str, str], Doc] = {}

    # --- writes -----------------------------------------------------------------------------

    def insert(
        self,
        collection: str,
        doc: Doc,
        *,
        conflict: str,
        phase: int = INSERT_PHASE,
        versioned: bool = False,
    ) -> None:
        """A new document; ``versioned`` ones carry a revision that conditional saves check."""
        doc_id = doc["_id"]
        if (collection, doc_id) in self._ops:
            raise Conflict(conflict)
        stored = {**doc, "seq": next_seq()}
        if versioned:
            stored["rev"] = 1
        self._ops[collection, doc_id] = _Insert(collection, stored, conflict, phase)
        self._docs[collection][doc_id] = stored

    def insert_new(self, collection: str, doc: Doc, *, conflict: str, versioned: bool = False) -> None:
        """``insert`` a document whose id is neither stored nor written here yet (a tombstone
        counts as stored): Conflict otherwise, at once rather than at commit."""
        if self.find_one(collection, {"_id": doc["_id"]}) is not None:
            raise Conflict(conflict)
        self.insert(collection, doc, conflict=conflict, versioned=versioned)

    def save(self, collection: str, doc: Doc, *, conflict: str) -> None:
        doc_id = doc["_id"]
        pending = self._ops.get((collection, doc_id))
        if isinstance(pending, _Insert):
            pending.doc = {**doc, **{k: pending.doc[k] for k in ("rev", "seq") if k in pending.doc}}
            self._docs[collection][doc_id] = pending.doc
            return
        read = pending.read if isinstance(pending, _Save) else self._read.get((collection, doc_id))
        seq = read["seq"] if read is not None and "seq" in read else next_seq()
        stored = {**doc, "seq": seq}
        self._ops[collection, doc_id] = _Save(collection, stored, read, conflict)
        self._docs[collection][doc_id] = stored

    def keep(self, collection: str, doc: Doc, *, same: Callable[[Doc], bool], conflict: str) -> None:
        self._ops[collection, doc["_id"]] = _Keep(collection, doc, same, conflict)
        self._docs[collection][doc["_id"]] = doc

    def upsert(self, collection: str, doc: Doc, update: Doc) -> None:
        """An idempotent upsert; ``doc`` is how the document looks to this unit of work's reads."""
        self._ops[collection, doc["_id"]] = _Upsert(collection, doc["_id"], update)
        self._docs[collection][doc["_id"]] = doc

    def delete(self, collection: str, doc_id: str) -> None:
        """Remove a document (one already gone: nothing to do); this unit of work's reads stop
        seeing it at once."""
        self._ops[collection, doc_id] = _Delete(collection, doc_id)
        self._docs[collection][doc_id] = {"_id": doc_id, _GONE: True}

    def increment(self, collection: str, doc_id: str, on_insert: Doc, by: int = 1) -> None:
        count = self._counts[collection].setdefault(doc_id, _Count(on_insert))
        count.by += by

    # --- reads ------------------------------------------------------------------------------

    def pending(self, collection: str) -> list[Doc]:
        """Documents written to ``collection`` in this unit of work, in write order."""
        return [doc for doc in self._docs[collection].values() if _GONE not in doc]

    def written(self, collection: str, doc_id: str) -> Doc | None:
        doc = self._docs[collection].get(doc_id)
        return None if doc is None or _GONE in doc else doc

    def increments(self, collection: str) -> Mapping[str, _Count]:
        return self._counts[collection]

    def find(
        self,
        collection: str,
        query: Doc,
        *,
        sort: Sort = (),
        limit: int | None = None,
    ) -> list[Doc]:
        """Documents matching ``query``: the server's, with this unit of work's writes laid over."""
        pending = self._docs[collection]
        # Pending documents may hide as many of the server's: ask for that many more.
        server_limit = None if limit is None else limit + len(pending)
        found = self.server_find(collection, query, sort=sort, limit=server_limit)
        for doc in found:
            if "rev" in doc:
                self._read.setdefault((collection, doc["_id"]), doc)
        if not pending:
            return found[:limit] if limit is not None else found
        merged = [doc for doc in found if doc["_id"] not in pending]
        merged += [doc for doc in pending.values() if _GONE not in doc and matches(doc, query)]
        ordered = sort_docs(merged, sort)
        return ordered[:limit] if limit is not None else ordered

    def find_one(self, collection: str, query: Doc) -> Doc | None:
        found = self.find(collection, query, limit=1)
        return found[0] if found else None

    def count(self, collection: str, query: Doc) -> int:
        pending = self._docs[collection]
        table = self.db.collection(collection)
        with translate_errors():
            total = table.count_documents(query)
            if pending:
                total -= table.count_documents({**query, "_id": {"$in": list(pending)}})
        return total + sum(_GONE not in doc and matches(doc, query) for doc in pending.values())

    def server_find(
        self,
        collection: str,
        query: Doc,
        *,
        sort: Sort = (),
        limit: int | None = None,
    ) -> list[Doc]:
        with translate_errors():
            cursor = self.db.collection(collection).find(query)
            if sort:
                cursor = cursor.sort(list(sort))
            if limit is not None:
                cursor = cursor.limit(limit)
            return list(cursor)

    def aggregate(self, collection: str, pipeline: list[Doc]) -> list[Doc]:
        """The server's answer only: callers add their pending documents themselves."""
        with translate_errors():
            return list(self.db.collection(collection).aggregate(pipeline))

    # --- commit -----------------------------------------------------------------------------

    def reset(self) -> None:
        self._ops.clear()
        self._docs.clear()
        self._counts.clear()
        self._read.clear()

    def commit(self) -> None:
        """Apply every buffered write; whatever happens, this unit of work starts afresh after."""
        ops = sorted(self._ops.values(), key=operator.attrgetter("phase"))
        counters = [(collection, dict(counts)) for collection, counts in self._counts.items() if counts]
        self.reset()
        if not ops and not counters:
            return
        self.db.ready()
        if self.db.supports_transactions:
            self._commit_in_transaction(ops, counters)
        else:
            self._commit_in_order(ops, counters)

    def _commit_in_transaction(self, ops: list[_Op], counters: list[tuple[str, dict[str, _Count]]]) -> None:
        database = self.db.database

        def apply(session: ClientSession) -> None:
            for op in ops:
                op.apply(database, session)
            _add_counts(database, counters, session)

        # The timeout bounds with_transaction's retries (120 s by default) so that a server
        # that is gone fails the request clearly instead of hanging it.
        with (
            translate_errors(),
            pymongo.timeout(self.db.commit_timeout_s),
            self.db.client.start_session() as session,
        ):
            session.with_transaction(apply, write_concern=WriteConcern("majority"))

    def _commit_in_order(self, ops: list[_Op], counters: list[tuple[str, dict[str, _Count]]]) -> None:
        database = self.db.database
        undo: list[Undo] = []
        try:
            for op in ops:
                step = op.apply(database, None)
                if step is not None:
                    undo.append(step)
        except Conflict:
            for step in reversed(undo):
                # Best effort: a server that stopped answering keeps what it has.
                with contextlib.suppress(PyMongoError):
                    step()
            raise
        _add_counts(database, counters, None)


def _add_counts(
    database: Database[Doc],
    counters: Iterable[tuple[str, dict[str, _Count]]],
    session: ClientSession | None,
) -> None:
    for collection, counts in counters:
        requests = [
            UpdateOne({"_id": doc_id}, {"$inc": {"count": c.by}, "$setOnInsert": c.on_insert}, upsert=True)
            for doc_id, c in counts.items()
        ]
        with translate_errors():
            database[collection].bulk_write(requests, ordered=False, session=session)


# --- laying pending documents over the server's answer ------------------------------------------

_COMPARE: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "$ne": lambda value, operand: value != operand,
    "$in": lambda value, operand: value in operand,
    "$gt": lambda value, operand: value is not None and value > operand,
    "$gte": lambda value, operand: value is not None and value >= operand,
    "$lt": lambda value, operand: value is not None and value < operand,
    "$lte": lambda value, operand: value is not None and value <= operand,
    "$regex": lambda value, operand: isinstance(value, str) and re.search(operand, value) is not None,
}


def matches(doc: Doc, query: Mapping[str, Any]) -> bool:
    """Whether ``doc`` matches ``query``, for the small subset of MongoDB queries used here."""
    for field, condition in query.items():
        if field == "$or":
            if not any(matches(doc, branch) for branch in condition):
                return False
            continue
        values = _values(doc, field)
        if isinstance(condition, Mapping) and condition and all(k.startswith("$") for k in condition):
            if not any(all(_COMPARE[op](v, arg) for op, arg in condition.items()) for v in values):
                return False
        elif condition not in values:
            return False
    return True


def _values(doc: Doc, path: str) -> list[Any]:
    """The values at a dotted path, looking into arrays of documents as MongoDB does."""
    current: list[Any] = [doc]
    for part in path.split("."):
        found: list[Any] = []
        for item in current:
            items = item if isinstance(item, list) else [item]
            found.extend(i.get(part) for i in items if isinstance(i, dict))
        current = found
    return current or [None]


def sort_docs(docs: list[Doc], sort: Sort) -> list[Doc]:
    ordered = list(docs)
    for field, direction in reversed(sort):
        ordered.sort(key=operator.itemgetter(field), reverse=direction < 0)
    return ordered


#: How a repository reaches the open unit of work of the calling thread.
CurrentWork = Callable[[], Work]
