"""Start real processes on free loopback ports for the tests, and stop them afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, *, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"server did not answer {url} within {timeout_s} s:\n{log.read_text(errors='replace')}"
    )


@contextmanager
def musicconnect_server(
    data_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    started: list[subprocess.Popen[bytes]] | None = None,
) -> Iterator[str]:
    """``musicconnect serve`` on a free port over ``data_dir``; yields its base URL. The process
    is appended to ``started``, for tests that kill it."""
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    command = [
        sys.executable,
        "-m",
        "musicconnect",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--workers",
        str(workers),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    if started is not None:
        started.append(process)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health", process=process, log=log)
        yield base
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], *, timeout_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
