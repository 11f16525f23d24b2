"""``musicconnect live``: the RTMP ingest server (nginx with its RTMP module), and the relay it runs."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from musicconnect.domain.errors import DomainError
from musicconnect.entrypoints.cli.common import data_dir_option, load_settings
from musicconnect.platform import Platform
from musicconnect.settings import Settings
from musicconnect.usecases.live_relay import relay as run_relay

log = logging.getLogger(__name__)

#: How often the ingest command ends sessions whose push is gone for good.
SWEEP_EVERY_S = 1.0


def _work_root(settings: Settings) -> Path:
    return settings.data_dir / "live" / "work"


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Where RTMP pushes are taken.")
@click.option("--port", default=1935, show_default=True, type=int)
@click.option(
    "--api-url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The API, as this machine reaches it (the RTMP server calls it back over plain HTTP).",
)
@data_dir_option
@click.pass_context
def live(ctx: click.Context, host: str, port: int, api_url: str, data_dir: Path | None) -> None:
    """Run the live ingest server: OBS or ffmpeg push to rtmp://HOST:PORT/live with a session's key."""
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from musicconnect.adapters.nginx import NginxNotFoundError, NginxRtmpIngest

    settings = load_settings(data_dir)
    # The relays nginx starts build their settings from the environment, as this process did.
    os.environ["MUSICCONNECT_DATA_DIR"] = str(settings.data_dir.resolve())
    platform = Platform.from_settings(settings)
    private = settings.data_dir / "live"
    private.mkdir(parents=True, exist_ok=True, mode=0o700)
    ingest = NginxRtmpIngest(
        prefix=private / "nginx",
        port=port,
        host=host,
        api_url=api_url,
        token=platform.live.ingest_token,
        relay=[sys.executable, "-m", "musicconnect", "live", "relay"],
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        server = ingest.start(log=private / "nginx.log")
    except NginxNotFoundError as missing:
        raise click.ClickException(str(missing)) from missing
    click.echo(f"live ingest on {ingest.ingest_url} (config {ingest.config_file})", err=True)
    try:
        while not stop.wait(SWEEP_EVERY_S):
            if server.poll() is not None:
                raise click.ClickException(f"nginx exited with {server.returncode}; see {private / 'nginx'}")
            _sweep(platform)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        _sweep(platform)
        platform.close()


def _sweep(platform: Platform) -> None:
    try:
        for session in platform.live.sweep():
            log.info("live session %s is %s", session.id, session.status)
    except DomainError as error:  # the database is busy or down: the next sweep tries again
        log.warning("could not sweep live sessions: %s", error.detail)


@live.command("relay")
@click.argument("key")
@click.argument("source")
@data_dir_option
def relay(key: str, source: str, data_dir: Path | None) -> None:
    """Transcode one push (run by the ingest server for each accepted push, not by hand)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s relay: %(message)s")
    platform = Platform.from_settings(load_settings(data_dir))
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        code = run_relay(
            key,
            source,
            _work_root(platform.settings),
            live=platform.live,
            transcoder=platform.services.live_transcoder,
            stop=stop,
        )
    except DomainError as refused:
        raise click.ClickException(refused.detail) from refused
    finally:
        platform.close()
    sys.exit(code)
