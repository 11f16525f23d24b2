"""A small closed-loop HTTP load generator: N concurrent clients for a fixed time."""

from __future__ import annotations

import asyncio
import time

import httpx


async def _worker(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], until: float
) -> tuple[int, int]:
    done = failed = 0
    while time.perf_counter() < until:
        response = await client.get(url, headers=headers)
        if response.status_code == 200:
            done += 1
        else:
            failed += 1
    return done, failed


async def _run(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await client.get(url, headers=headers)  # warm up
        start = time.perf_counter()
        results = await asyncio.gather(
            *(_worker(client, url, headers, start + seconds) for _ in range(concurrency)),
        )
        elapsed = time.perf_counter() - start
    failed = sum(f for _, f in results)
    if failed:
        raise RuntimeError(f"{failed} requests to {url} failed")
    return sum(d for d, _ in results) / elapsed


def requests_per_second(
    url: str, *, headers: dict[str, str] | None = None, seconds: float = 5.0, concurrency: int = 16
) -> float:
    return asyncio.run(_run(url, headers or {}, seconds, concurrency))
