"""A redis-server of our own on a free loopback port (never the machine's shared one)."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import ServerProcess, require_binary

INSTALL = "apt-get install redis-server"


def redis_server(folder: Path, *, persistent: bool = False) -> ServerProcess:
    """redis-server on a free port; ``persistent`` keeps an append-only file fsynced on every write,
    so a restarted server remembers what the killed one knew (as a production Redis must)."""
    durability = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
    binary = require_binary("redis-server", INSTALL)
    folder.mkdir(parents=True, exist_ok=True)
    return ServerProcess(
        command=lambda port: [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *durability,
            "--dir",
            str(folder),
            "--protected-mode",
            "yes",
        ],
        log=folder / "redis.log",
    ).start()


def redis_url(server: ServerProcess, db: int = 0) -> str:
    return f"redis://127.0.0.1:{server.port}/{db}"
