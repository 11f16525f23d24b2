"""``create_app``: the Litestar application over a ``Platform``: each handler receives the bound
use-case groups it names (``tracks: TracksDep``), provided once here for every ``Platform`` field."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

import anyio.to_thread
import attrs
from litestar import Litestar, get
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components
from litestar.plugins.pydantic import PydanticPlugin

from musicconnect.bootstrap import secret_key
from musicconnect.entrypoints.http.artist_picture import ArtistPictureController
from musicconnect.entrypoints.http.artists import ArtistController, search_artists
from musicconnect.entrypoints.http.auth import SECURITY_SCHEMES, provide_caller, provide_viewer
from musicconnect.entrypoints.http.auth_routes import AuthController
from musicconnect.entrypoints.http.backstage import BackstageController, BackstageMediaController
from musicconnect.entrypoints.http.engagement import EngagementController
from musicconnect.entrypoints.http.errors import EXCEPTION_HANDLERS
from musicconnect.entrypoints.http.hardening import add_security_headers, refuse_deep_json
from musicconnect.entrypoints.http.library import LibraryController
from musicconnect.entrypoints.http.live import LiveController
from musicconnect.entrypoints.http.me import MeController
from musicconnect.entrypoints.http.media import MediaController
from musicconnect.entrypoints.http.messages import ConversationController
from musicconnect.entrypoints.http.notifications import NotificationController
from musicconnect.entrypoints.http.openapi import complete_openapi
from musicconnect.entrypoints.http.payouts import AdminController, ArtistMoneyController
from musicconnect.entrypoints.http.qa import QaController
from musicconnect.entrypoints.http.schemas import HealthOut
from musicconnect.entrypoints.http.subscriptions import MySubscriptionsController, SubscriptionController
from musicconnect.entrypoints.http.tracks import TrackController
from musicconnect.entrypoints.http.uploads import UploadFolder
from musicconnect.entrypoints.http.webhooks import payment_handlers
from musicconnect.entrypoints.web import web_app
from musicconnect.platform import Platform

#: JSON bodies other than uploads are small; uploads set their own limit from the upload policy.
MAX_JSON_BODY_BYTES: Final = 1024 * 1024


@get("/health", tags=["system"])
async def health() -> HealthOut:
    """Liveness: the process answers."""
    return HealthOut()


def _version() -> str:
    try:
        return version("musicconnect")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
        return "0.0.0"


def _openapi_config() -> OpenAPIConfig:
    # JSON only: the UI pages load their scripts from a CDN, which offline installs cannot reach.
    return OpenAPIConfig(
        title="Music Connect",
        version=_version(),
        path="/schema",
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        components=Components(security_schemes=SECURITY_SCHEMES),
        use_handler_docstrings=True,
    )


def _cors_config(origins: list[str]) -> CORSConfig | None:
    """CORS for the configured web origins, on every route: the API, masters, variants, media.

    No credentials: the API takes a bearer header and media carry their signature in the URL,
    so no cookie ever needs to cross origins. ``Range`` is allowed for players that seek.
    """
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Range"],
        expose_headers=["Content-Range", "Content-Length", "Accept-Ranges", "Retry-After"],
        allow_credentials=False,
        max_age=600,
    )


def _provide(platform: Platform, name: str) -> Provide:
    """A dependency answering the platform's ``name`` group: an attribute read, built nothing.

    Read at each request rather than cached, so a test may swap the groups of one app's platform.
    """

    def provide() -> Any:
        return getattr(platform, name)

    return Provide(provide, sync_to_thread=False)


def create_app(platform: Platform) -> Litestar:
    """The HTTP API over ``platform``; closing the app closes it."""
    groups = {field.name: _provide(platform, field.name) for field in attrs.fields(Platform)}

    def provide_uploads() -> UploadFolder:
        # Only uploads ask for it, so it is no cost to the hot paths.
        return UploadFolder(platform.settings.data_dir / "tmp" / "uploads")

    async def close_platform() -> None:
        await anyio.to_thread.run_sync(platform.close)

    # The web pages: their own sessions and CSRF checks, on their routes only.
    web = web_app(platform, secret=secret_key(platform.settings))

    return Litestar(
        route_handlers=[
            health,
            AuthController,
            MeController,
            ArtistController,
            search_artists,
            ArtistPictureController,
            ArtistMoneyController,
            TrackController,
            MediaController,
            LiveController,
            SubscriptionController,
            MySubscriptionsController,
            EngagementController,
            ConversationController,
            QaController,
            BackstageController,
            BackstageMediaController,
            LibraryController,
            NotificationController,
            AdminController,
            *payment_handlers(platform),
            *web.routers,
        ],
        dependencies={
            **groups,
            "uploads": Provide(provide_uploads, sync_to_thread=False),
            # Revocation checks may reach a network store (Redis): keep them off the event loop.
            "caller": Provide(provide_caller, sync_to_thread=True),
            "viewer": Provide(provide_viewer, sync_to_thread=True),
        },
        exception_handlers=dict(EXCEPTION_HANDLERS),
        cors_config=_cors_config(platform.settings.cors_origin_list),
        openapi_config=_openapi_config(),
        stores=web.stores,
        template_config=web.templates,
        # Strict validation: a float where an integer amount belongs is refused, not truncated.
        plugins=[PydanticPlugin(validate_strict=True)],
        request_max_body_size=MAX_JSON_BODY_BYTES,
        before_request=refuse_deep_json,
        before_send=[add_security_headers],
        on_startup=[complete_openapi, web.purge_expired_sessions],
        on_shutdown=[close_platform],
        debug=False,
    )
