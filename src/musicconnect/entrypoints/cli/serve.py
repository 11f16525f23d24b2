"""``musicconnect serve``: the HTTP API on the configured adapters."""

from __future__ import annotations

import os
from pathlib import Path

import click
import uvicorn

from musicconnect.bootstrap import prepare
from musicconnect.entrypoints.cli.common import data_dir_option, load_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@data_dir_option
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="API processes.")
def serve(host: str, port: int, data_dir: Path | None, workers: int) -> None:
    """Serve the API (embedded defaults when nothing is configured)."""
    if data_dir is not None:
        # Worker processes build their own settings from the environment.
        os.environ["MUSICCONNECT_DATA_DIR"] = str(data_dir.resolve())
    prepare(load_settings(data_dir))
    uvicorn.run(
        "musicconnect.entrypoints.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )
