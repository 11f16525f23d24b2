"""A MongoDB wire-protocol server (nx-27017 on SQLite) on a free loopback port.

When ``MUSICCONNECT_TEST_MONGODB_URI`` is set, tests use that real MongoDB instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.support.processes import ServerProcess

ENV_URI = "MUSICCONNECT_TEST_MONGODB_URI"


def nx_27017_server(folder: Path) -> ServerProcess:
    folder.mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).with_name("nx-27017")
    return ServerProcess(
        command=lambda port: [
            str(binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(folder / "db"),
            "--log-file",
            str(folder / "nx.log"),
            "--pid-file",
            str(folder / "nx.pid"),
        ],
        log=folder / "nx-stdout.log",
    ).start()


def external_mongodb_uri() -> str | None:
    return os.environ.get(ENV_URI) or None


def mongo_uri(server: ServerProcess) -> str:
    return f"mongodb://127.0.0.1:{server.port}/?directConnection=true"
