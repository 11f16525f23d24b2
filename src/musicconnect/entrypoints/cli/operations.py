"""Operator commands: ingest a file, run payouts, run the transcode worker."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from musicconnect.adapters.inprocess import Repeating
from musicconnect.bootstrap import bootstrap, job_handlers
from musicconnect.domain.clocks import month_key
from musicconnect.domain.errors import DomainError
from musicconnect.domain.stranded import GIVE_UP_AFTER, SWEEP_EVERY
from musicconnect.entrypoints.cli.common import OPERATOR, data_dir_option, ingest_and_wait, load_settings
from musicconnect.platform import Platform
from musicconnect.usecases.tracks import IngestTrack

console = Console()
log = logging.getLogger(__name__)


@click.command()
@click.argument("audio", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--artist-id", required=True, help="The artist the track belongs to.")
@click.option("--title", required=True)
@click.option("--release-at", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z"]), default=None)
@click.option("--exclusive", is_flag=True, help="Only supporters and superfans may hear it.")
@data_dir_option
def ingest(
    audio: Path,
    artist_id: str,
    title: str,
    release_at: datetime | None,
    exclusive: bool,
    data_dir: Path | None,
) -> None:
    """Validate, store and transcode an audio file into the HLS ladder, with a progress bar."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("transcoding", total=1.0)
        services = bootstrap(
            load_settings(data_dir),
            on_transcode_progress=lambda _, fraction: progress.update(task, completed=fraction),
        )
        command = IngestTrack(
            artist_id=artist_id, title=title, upload=audio, release_at=release_at, exclusive=exclusive
        )
        try:
            with Platform.of(services) as platform:
                track = ingest_and_wait(platform, command, caller=OPERATOR)
        except DomainError as error:
            raise click.ClickException(error.detail) from error
    console.print(f"track {track.id}: {track.status}, rungs {list(track.rungs_kbps)} kbps")
    if track.failure_reason:
        raise click.ClickException(track.failure_reason)


@click.group()
def payouts() -> None:
    """Artist payouts."""


@payouts.command("run")
@click.option("--period", default=None, help="YYYY-MM (default: the current month).")
@data_dir_option
def payouts_run(period: str | None, data_dir: Path | None) -> None:
    """Pay every artist their available balance for the period; running it again pays nothing more."""
    try:
        with Platform.from_settings(load_settings(data_dir)) as platform:
            chosen = period or month_key(platform.payouts.clock.now())
            paid = platform.payouts.run(chosen, caller=OPERATOR)
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    table = Table("artist", "period", "gross", "platform 10 %", "artist 90 %", title=f"payouts for {chosen}")
    for payout in paid:
        table.add_row(
            payout.artist_id,
            payout.period,
            payout.gross.format(),
            payout.platform_fee.format(),
            payout.amount.format(),
        )
    console.print(table if paid else f"nothing to pay for {chosen}")


@click.command()
@data_dir_option
@click.option("--once", is_flag=True, help="Process what is pending, then exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between looks for work.")
def worker(data_dir: Path | None, once: bool, interval: float) -> None:
    """Run transcodes and keep ended live sessions' recordings: jobs from the Redis queue when
    configured, else tracks still processing and live sessions the clock ended. Either way it
    keeps the platform's schedule (the release sweep, and backstage clips left processing queued
    again)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    platform = Platform.from_settings(load_settings(data_dir))
    services = platform.services
    schedule = platform.schedule()
    schedule.start()
    try:
        if services.settings.redis_url:
            _take_jobs_from_redis(platform, services.settings.redis_url)
        else:
            _transcode_pending(platform, once=once, interval=interval)
    finally:
        schedule.stop()
        services.close()


def _take_jobs_from_redis(platform: Platform, redis_url: str) -> None:
    from musicconnect.adapters.redis import run_worker

    services = platform.services
    console.print("worker: taking jobs (transcodes, clips, live recordings, notifications) from Redis")
    # Every worker may sweep: enqueuing is deduplicated by track.
    sweeper = Repeating("stranded-tracks", SWEEP_EVERY.total_seconds(), lambda: _sweep_stranded(platform))
    sweeper.start()
    try:
        run_worker(
            redis_url,
            job_handlers(services),
            concurrency=services.settings.transcode_workers,
        )
    finally:
        sweeper.stop()


def _transcode_pending(platform: Platform, *, once: bool, interval: float) -> None:
    """Without Redis: transcode the tracks still processing, then look again every ``interval``
    (the platform's own thread pool runs the other jobs)."""
    while True:
        _sweep_live(platform)
        with platform.services.uow() as uow:
            pending = [track.id for track in uow.tracks.processing()]
        for track_id in pending:
            console.print(f"transcoding {track_id}")
            try:
                platform.tracks.transcode(track_id)
            except DomainError as error:
                console.print(f"[red]{track_id} failed:[/] {error.detail}")
        if once:
            return
        time.sleep(interval)


def _sweep_stranded(platform: Platform) -> None:
    """Queue again the transcodes of tracks left processing, and end the live sessions the clock
    ended."""
    _sweep_live(platform)
    try:
        swept = platform.tracks.requeue_stranded()
    except DomainError as error:  # the database or the queue is down: try again next time
        log.warning("could not look for stranded tracks: %s", error.detail)
        return
    for track_id in swept.requeued:
        log.warning("queued the transcode of stranded track %s again", track_id)
    for track_id in swept.given_up:
        log.error("gave up on track %s: still processing after %s", track_id, GIVE_UP_AFTER)


def _sweep_live(platform: Platform) -> None:
    """End the live sessions the clock ended, should the ingest server that sweeps them be gone."""
    try:
        for session in platform.live.sweep():
            log.warning("live session %s was left %s; its recording is queued", session.id, session.status)
    except DomainError as error:
        log.warning("could not sweep live sessions: %s", error.detail)
