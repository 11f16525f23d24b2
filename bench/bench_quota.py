"""Quota checks: RedisQuotaCounter.acquire operations/s over redis-benchmark's INCR, same server.

Both sides talk to one redis-server this script starts on a free loopback port. The baseline is
``redis-benchmark -t incr -n 100000 -q``: 50 clients on one C event loop, one INCR at a time per
client, no pipelining (``-P 1``). Our side is what an API process does for each direct message: one
``acquire``, a single EVALSHA of the quota script (GET, compare, INCR, PEXPIREAT on first use),
packed by hiredis and sent on redis-py's connection (RedisConnection.script), one call at a time
per client, no pipelining either.

To be fair to the baseline's 50 concurrent clients, ours also keeps many calls in flight: several
processes (the GIL lets one process drive only so much) of several threads each, every thread a
client of its own on its own key, with a limit that is never reached so every call increments.
What is left of the gap is the cost of Python and redis-py per call and the script's extra work
on the server, which is what this measures. Rounds alternate the two sides so that drift in machine
load hits both alike; each round's ratio compares neighbours, and the median round is reported.
Target: at least 0.3.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from threading import Thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.redis_server import redis_server, redis_url

from musicconnect.adapters.redis import RedisQuotaCounter

REQUESTS = 100_000
ROUNDS = 3
_NEVER_REACHED = 10**15
_INCR_RATE = re.compile(r"INCR:\s*([\d.]+)\s+requests per second")


def redis_benchmark_incr(binary: str, port: int) -> float:
    """Requests/s that redis-benchmark reports for INCR (its default 50 clients)."""
    result = subprocess.run(
        [binary, "-h", "127.0.0.1", "-p", str(port), "-t", "incr", "-n", str(REQUESTS), "-q"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    rates = _INCR_RATE.findall(result.stdout.replace("\r", "\n"))
    if not rates:
        raise RuntimeError(f"no INCR rate in redis-benchmark's output:\n{result.stdout}")
    return float(rates[-1])


@dataclasses.dataclass(frozen=True)
class _Clients:
    url: str
    prefix: str
    threads: int
    seconds: float


def _acquire_for(plan: _Clients, start: Barrier, out: Queue[tuple[int, float, float]]) -> None:
    """One client process: ``plan.threads`` threads calling acquire for ``plan.seconds``, from the
    moment every process is ready."""
    quota = RedisQuotaCounter(plan.url, prefix=plan.prefix)
    threads, seconds = plan.threads, plan.seconds
    resets_at = datetime.now(UTC) + timedelta(days=1)
    counts = [0] * threads
    for n in range(threads):  # opens a pooled connection per thread before the clock starts
        quota.used(f"client-{n}")
    start.wait(timeout=60)
    began = time.monotonic()
    until = began + seconds

    def hammer(n: int) -> None:
        key = f"client-{n}"
        done = 0
        while time.monotonic() < until:
            quota.acquire(key, limit=_NEVER_REACHED, resets_at=resets_at)
            done += 1
        counts[n] = done

    workers = [Thread(target=hammer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put((sum(counts), began, time.monotonic()))


def acquires_per_second(url: str, *, processes: int, threads: int, seconds: float) -> float:
    """Acquire calls/s from ``processes`` x ``threads`` clients; checks every call was counted."""
    context = multiprocessing.get_context("spawn")
    prefix = f"bench:{uuid.uuid4().hex}:"
    start = context.Barrier(processes)
    out: Queue[tuple[int, float, float]] = context.Queue()
    clients = [
        context.Process(target=_acquire_for, args=(_Clients(url, prefix, threads, seconds), start, out))
        for _ in range(processes)
    ]
    for client in clients:
        client.start()
    reports = [out.get(timeout=seconds + 120) for _ in clients]
    for client in clients:
        client.join(timeout=30)
    total = sum(count for count, _, _ in reports)
    # time.monotonic is one clock for every process on Linux: the window spans them all.
    began = min(first for _, first, _ in reports)
    ended = max(last for _, _, last in reports)
    quota = RedisQuotaCounter(url, prefix=prefix)
    # Every process used the same key names, so each key holds the calls of all processes.
    counted = sum(quota.used(f"client-{n}") for n in range(threads))
    if counted != total:
        raise RuntimeError(f"{total} acquires made but {counted} counted")
    return total / (ended - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--threads", type=int, default=4, help="client threads per process (default 4)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each of our rounds")
    args = parser.parse_args()
    benchmark = shutil.which("redis-benchmark")
    if benchmark is None:
        sys.exit("redis-benchmark is not installed: apt-get install redis-tools (or redis-server)")

    with tempfile.TemporaryDirectory() as scratch:
        server = redis_server(Path(scratch) / "redis")
        try:
            url = redis_url(server)
            baseline, ours = [], []
            for _ in range(ROUNDS):
                baseline.append(redis_benchmark_incr(benchmark, server.port))
                ours.append(
                    acquires_per_second(
                        url, processes=args.processes, threads=args.threads, seconds=args.seconds
                    )
                )
        finally:
            server.stop()
    ratios = [mine / base for mine, base in zip(ours, baseline, strict=True)]
    clients = args.processes * args.threads
    print(f"redis-benchmark INCR, 50 clients:         {statistics.median(baseline):10,.0f} ops/s  (baseline)")
    print(f"RedisQuotaCounter.acquire, {clients:3d} clients:  {statistics.median(ours):10,.0f} ops/s")
    rounds = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"ratio acquire/INCR: {statistics.median(ratios):.2f}  (target >= 0.3; rounds: {rounds})")


if __name__ == "__main__":
    main()
