"""Dashboard: the 30-day plays query on daily buckets against a full scan of the raw play events.

One artist's play events, spread at random over the last 90 days, are stored twice on the same
MongoDB server (nx-27017, started here on a free loopback port): as the per-artist daily bucket
documents ``MongoPlayEventStore`` keeps up to date with ``$inc`` (written here in bulk, in the
adapter's shape, among the buckets of other artists), and as one raw document per event with no
index. Ours is the dashboard's plays query through the adapter (``daily_counts`` over 30 days,
a unit of work each time); the baseline is the aggregation a raw-events design needs: ``$match``
on the artist and the window, then ``$group`` by the UTC day. Both must give the same counts.
Target: a ratio of at least 50.

nx-27017 takes about 3 k raw documents a second, so the 1 M events take five to seven minutes to
load. For a quicker look, ``--load-budget-s`` stops loading after that many seconds (0, the
default, loads them all) and the measure is taken at what was loaded, said plainly in the output.
The buckets always hold exactly the loaded events.

Two limits of nx-27017 shape the baseline's pipeline: ``$group`` on an object ``_id`` silently
makes one group, so the day is a string expression (``$dateToString``); and a ``$match`` on a
date inside an aggregation matches every document, so the window is matched on epoch milliseconds
stored next to the date.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bson import Int64
from pymongo import MongoClient
from tests.support.mongo_server import mongo_uri, nx_27017_server

from musicconnect.adapters.mongo import MongoDatabase, MongoUnitOfWork
from musicconnect.adapters.mongo._codec import key
from musicconnect.adapters.mongo.database import PLAY_BUCKETS
from musicconnect.domain.analytics import WINDOW_DAYS

DATABASE = "bench_dashboard"
RAW = "raw_play_events"
ARTIST = "artist-bench"
HISTORY_DAYS = 90
DAY_MS = 86_400_000
BATCH = 5_000
FANS = 5_000
TRACKS = 20
BUCKET_ROUNDS = 30
SCAN_ROUNDS = 5


def _day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def load_raw(
    client: MongoClient[dict[str, Any]], *, events: int, budget_s: float, now_ms: int, seed: int
) -> tuple[Counter[str], float]:
    """Insert up to ``events`` raw play events, in batches, until the budget runs out.

    Event times are drawn at random over the last 90 days, so whatever prefix fits in the budget
    covers the whole window evenly. Returns the events per UTC day actually stored, and the time.
    """
    collection = client[DATABASE][RAW]
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    per_day: Counter[str] = Counter()
    began = time.perf_counter()
    loaded = 0
    while loaded < events:
        batch = []
        for _ in range(min(BATCH, events - loaded)):
            at_ms = now_ms - rng.randrange(HISTORY_DAYS * DAY_MS)
            at = datetime.fromtimestamp(at_ms / 1000, UTC)
            batch.append(
                {
                    "artist_id": ARTIST,
                    "track_id": f"track-{rng.randrange(TRACKS)}",
                    "fan_id": f"fan-{rng.randrange(FANS)}",
                    "at": at,
                    "at_ms": Int64(at_ms),
                }
            )
            per_day[at.date().isoformat()] += 1
        collection.insert_many(batch, ordered=False)
        loaded += len(batch)
        elapsed = time.perf_counter() - began
        if loaded % 100_000 < BATCH:
            print(f"  raw events loaded: {loaded:>9,} ({loaded / elapsed:,.0f}/s)", flush=True)
        if budget_s and elapsed > budget_s and loaded < events:
            print(f"  load budget of {budget_s:.0f} s spent: stopping at {loaded:,} events", flush=True)
            break
    return per_day, time.perf_counter() - began


def load_buckets(
    client: MongoClient[dict[str, Any]], per_day: Counter[str], *, other_artists: int, today: date, seed: int
) -> int:
    """The adapter's daily bucket documents: ours from ``per_day``, others' with random counts."""
    collection = client[DATABASE][PLAY_BUCKETS]
    docs = [
        {"_id": key(ARTIST, day), "artist_id": ARTIST, "day": day, "count": count}
        for day, count in per_day.items()
    ]
    rng = random.Random(seed + 1)  # noqa: S311
    days = [(today - timedelta(days=n)).isoformat() for n in range(HISTORY_DAYS)]
    for n in range(other_artists):
        artist = f"artist-{n:05d}"
        docs += [
            {"_id": key(artist, day), "artist_id": artist, "day": day, "count": rng.randrange(1, 5_000)}
            for day in days
        ]
    for start in range(0, len(docs), BATCH):
        collection.insert_many(docs[start : start + BATCH], ordered=False)
    return len(docs)


def median_s(run: Callable[[], object], rounds: int) -> tuple[float, object]:
    """The median time of ``rounds`` runs, after one warm-up run whose result is returned."""
    result = run()
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="raw play events (default 1 M)")
    parser.add_argument(
        "--load-budget-s",
        type=float,
        default=0.0,
        help="stop loading raw events after this many seconds (default 0: load them all)",
    )
    parser.add_argument("--other-artists", type=int, default=200, help="artists with buckets besides ours")
    parser.add_argument("--seed", type=int, default=20_240_601)
    # `nox -s bench -- ...` hands the same arguments to every bench script: ignore the others'.
    args, ignored = parser.parse_known_args()
    if ignored:
        print(f"(ignoring arguments meant for other benchmarks: {' '.join(ignored)})")

    now = datetime.now(UTC)
    today = now.date()
    first = today - timedelta(days=WINDOW_DAYS - 1)
    window_ms = {"$gte": Int64(_day_start_ms(first)), "$lt": Int64(_day_start_ms(today + timedelta(days=1)))}
    scan: list[dict[str, Any]] = [
        {"$match": {"artist_id": ARTIST, "at_ms": window_ms}},
        {"$group": {"_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$at"}}, "plays": {"$sum": 1}}},
    ]

    with tempfile.TemporaryDirectory() as scratch:
        server = nx_27017_server(Path(scratch) / "mongo")
        database = MongoDatabase(mongo_uri(server), database=DATABASE)
        client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri(server), tz_aware=True)
        try:
            database.ensure_indexes()
            print(f"loading up to {args.events:,} raw play events over {HISTORY_DAYS} days into nx-27017 ...")
            per_day, load_s = load_raw(
                client,
                events=args.events,
                budget_s=args.load_budget_s,
                now_ms=int(now.timestamp() * 1000),
                seed=args.seed,
            )
            loaded = sum(per_day.values())
            buckets = load_buckets(
                client, per_day, other_artists=args.other_artists, today=today, seed=args.seed
            )
            uow = MongoUnitOfWork(database)

            def bucketed() -> dict[str, int]:
                with uow:
                    counts = uow.plays.daily_counts(ARTIST, first, today)
                return {day.isoformat(): plays for day, plays in counts.items()}

            def full_scan() -> dict[str, int]:
                return {str(d["_id"]): int(d["plays"]) for d in client[DATABASE][RAW].aggregate(scan)}

            ours, from_buckets = median_s(bucketed, BUCKET_ROUNDS)
            baseline, from_scan = median_s(full_scan, SCAN_ROUNDS)
        finally:
            client.close()
            database.close()
            server.stop()

    expected = {day: n for day, n in per_day.items() if first.isoformat() <= day <= today.isoformat()}
    if not from_buckets == from_scan == expected:
        sys.exit("the bucketed query and the full scan disagree: the measure is void")
    in_window = sum(expected.values())
    ratio = baseline / ours
    complete = loaded == args.events
    print(
        f"raw events: {loaded:,}{'' if complete else f' of {args.events:,} asked'} loaded in {load_s:.0f} s"
        f" ({loaded / load_s:,.0f}/s); {in_window:,} in the {WINDOW_DAYS}-day window;"
        f" {buckets:,} bucket documents"
    )
    if not complete:
        print(
            f"NOTE: measured at {loaded:,} events, not {args.events:,}: nx-27017 could not load them within"
            f" the {args.load_budget_s:.0f} s budget (pass --load-budget-s 0 to load all)."
            f" The scan grows with the events, the bucketed query does not: at {args.events:,} the ratio"
            f" would be about {ratio * args.events / loaded:,.0f} (linear estimate, not measured)."
        )
    print(f"full scan of raw events, $match + $group by day: {baseline * 1000:10.1f} ms  (baseline)")
    print(f"30-day dashboard plays, daily buckets (adapter): {ours * 1000:10.1f} ms")
    print(
        f"ratio scan/bucketed at {loaded:,} events: {ratio:,.0f}x  (target >= 50;"
        f" medians of {SCAN_ROUNDS} and {BUCKET_ROUNDS} runs)"
    )


if __name__ == "__main__":
    main()
