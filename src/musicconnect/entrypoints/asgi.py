"""ASGI entry for servers that import the app (``uvicorn --factory musicconnect.entrypoints.asgi:create``)."""

from __future__ import annotations

import logging

from litestar import Litestar

from musicconnect.entrypoints.http import create_app
from musicconnect.platform import Platform
from musicconnect.settings import Settings


def create() -> Litestar:
    """Build settings from the environment, assemble the adapters, and return the app."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(Platform.from_settings(Settings()))
