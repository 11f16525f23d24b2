"""moto in server mode (S3 and CloudFront APIs) on a free loopback port."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.processes import ServerProcess


def moto_server(folder: Path) -> ServerProcess:
    folder.mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).with_name("moto_server")
    return ServerProcess(
        command=lambda port: [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        log=folder / "moto.log",
    ).start()


def endpoint_url(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.port}"
