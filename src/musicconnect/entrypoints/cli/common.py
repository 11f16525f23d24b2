"""What the commands share: settings from options, and the CLI's own admin identity."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import click

from musicconnect.domain.accounts import Caller, Role
from musicconnect.settings import Settings

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
