"""Server throughput measured with wrk (Debian's `wrk`): a C client that is never the bottleneck.

A Python client saturates at about 800 req/s on two cores and hides the server's cost; wrk drives
a trivial Litestar endpoint at several thousand.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Final

_RATE: Final = re.compile(r"Requests/sec:\s+([\d.]+)")
_FAILED: Final = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_ERRORS: Final = re.compile(r"Socket errors:.*")


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (scripts/setup.sh does it)")
    return found


def wrk_requests_per_second(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    seconds: float = 5.0,
    connections: int = 16,
    threads: int = 2,
) -> float:
    """Requests/s wrk sustains against ``url``; any non-2xx answer or socket error fails the run."""
    header_args = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    result = subprocess.run(
        [
            wrk_binary(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            *header_args,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    out = result.stdout
    failed = _FAILED.search(out)
    errors = _ERRORS.search(out)
    if failed or errors:
        raise RuntimeError(f"wrk saw failures on {url}:\n{out}")
    rate = _RATE.search(out)
    if rate is None:
        raise RuntimeError(f"wrk printed no rate for {url}:\n{out}")
    return float(rate.group(1))
