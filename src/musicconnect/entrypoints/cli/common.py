"""What the commands share: settings from options, and the CLI's own admin identity."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click

from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.tracks import Track
from musicconnect.platform import Platform
from musicconnect.settings import Settings
from musicconnect.usecases.tracks import IngestTrack

#: The operator at the terminal acts as an admin: the CLI is only run by whoever runs the platform.
OPERATOR: Final = Caller(id="cli-operator", role=Role.ADMIN)

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the SQLite file and media live "
    "(default: $MUSICCONNECT_DATA_DIR or ~/.local/share/musicconnect).",
)


def load_settings(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


def ingest_and_wait(
    platform: Platform, command: IngestTrack, *, caller: Caller, timeout_s: float = 3600
) -> Track:
    """Ingest a file and wait for its transcode to finish in this process: the track as it ended.

    The ``ingest`` command, the demo and the ingest benchmark all go through here.
    """
    track = platform.tracks.ingest(command, caller=caller)
    # The in-process queues can be waited on; a Redis queue's workers run elsewhere.
    join = getattr(platform.services.jobs, "join", None)
    if join is not None:
        join(timeout=timeout_s)
    return platform.tracks.view(track.id, caller=caller)
