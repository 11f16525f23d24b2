"""Run a real server binary on a free loopback port for the length of a test or session."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import pytest

from tests.support.servers import free_port


def require_binary(name: str, install: str) -> str:
    """The binary's path; a missing one fails the test with how to install it (never skips)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {install}")
    return path


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@attrs.define
class ServerProcess:
    """A server process we started; ``stop()`` ends it, ``restart()`` brings it back on the same port."""

    command: Callable[[int], Sequence[str]]
    log: Path
    port: int = attrs.field(factory=free_port)
    ready: Callable[[int], bool] = port_open
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> ServerProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                list(self.command(self.port)),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=os.environ.copy(),
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text(errors='replace')[-3000:]}")
            if self.ready(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"server not ready on port {self.port}:\n{self.log.read_text(errors='replace')[-3000:]}"
        )

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()
