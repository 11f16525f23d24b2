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
    platform = Platform.from_settings(Settings())
    app = create_app(platform)
    if not platform.settings.redis_url:
        # Embedded: jobs run in this process, so it keeps their schedule too (on Redis, the worker
        # does). Each API process sweeps; the sweeps are idempotent.
        schedule = platform.schedule()
        app.on_startup.append(schedule.start)
        app.on_shutdown.insert(0, schedule.stop)
    return app
