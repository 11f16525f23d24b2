"""The web app: server-rendered pages over the same use cases as the JSON API, served by the same
Litestar app. Browser sessions and CSRF checks apply to these routes only; the API keeps its
bearer tokens."""

from __future__ import annotations

from datetime import UTC
from typing import Any, Final

import attrs
from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import Request, Router
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.template.config import TemplateConfig

from musicconnect.domain.accounts import Caller
from musicconnect.domain.money import Money
from musicconnect.entrypoints.http.schemas import picture_url
from musicconnect.entrypoints.web import session
from musicconnect.entrypoints.web.account import AccountPages
from musicconnect.entrypoints.web.assets import asset_routers
from musicconnect.entrypoints.web.backstage import BackstagePages
from musicconnect.entrypoints.web.calls import WebCalls
from musicconnect.entrypoints.web.common import SignInFirst, error_pages, sign_in_first
from musicconnect.entrypoints.web.fans import FanPages
from musicconnect.entrypoints.web.labels import label
from musicconnect.entrypoints.web.perks import (
    LivePages,
    MessagePages,
    NotificationPages,
    PerkRefused,
    QaPages,
    perk_refused,
)
from musicconnect.entrypoints.web.picture import PicturePages
from musicconnect.entrypoints.web.studio import StudioPages
from musicconnect.platform import Platform

__all__ = ["WebApp", "web_app"]

#: Scripts, styles and media from this origin only; segments may come from a CDN over https.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self' https:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self' https:; frame-ancestors 'none'"
)


@attrs.frozen
class WebApp:
    """What ``create_app`` adds to the Litestar app for the web pages."""

    routers: list[Router]
    stores: dict[str, Store]
    templates: TemplateConfig[JinjaTemplateEngine]

    async def purge_expired_sessions(self) -> None:
        """Files of sessions past their age stay until read; drop them at start-up (Redis expires
        its own)."""
        for store in self.stores.values():
            if isinstance(store, FileStore):
                await store.delete_expired()


def _money(value: Any) -> str:
    return str(value.format()) if value is not None else ""


def _minor(amount: int, currency: str) -> str:
    """An amount the dashboard reads in minor units, as people read money (``25.00 USD``)."""
    return Money(int(amount), currency).format()


def _templates() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=PackageLoader("musicconnect.entrypoints.web", "templates"),
        autoescape=select_autoescape(default=True),
        auto_reload=False,
    )
    environment.filters["money"] = _money
    environment.filters["minor"] = _minor
    environment.filters["label"] = label
    environment.globals["utc"] = UTC
    environment.filters["picture_url"] = picture_url
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def web_app(platform: Platform, *, secret: str) -> WebApp:
    """The pages over ``platform``; ``secret`` signs the CSRF tokens."""
    calls = WebCalls(platform)
    settings = platform.settings

    csrf = session.csrf_config(settings, secret)

    def provide_calls() -> WebCalls:
        return calls

    def provide_csrf() -> CSRFConfig:
        return csrf

    def provide_visitor(request: Request[Any, Any, Any]) -> Caller | None:
        return session.visitor_of(request, calls)

    pages = Router(
        path="/",
        route_handlers=[
            AccountPages,
            FanPages,
            StudioPages,
            QaPages,
            MessagePages,
            LivePages,
            NotificationPages,
            BackstagePages,
            PicturePages,
        ],
        dependencies={
            "calls": Provide(provide_calls, sync_to_thread=False, use_cache=True),
            "csrf": Provide(provide_csrf, sync_to_thread=False, use_cache=True),
            # One account read per request (a reset or erasure ends the session at once).
            "visitor": Provide(provide_visitor, sync_to_thread=True),
        },
        middleware=[
            session.session_config(settings).middleware,
            DefineMiddleware(CSRFMiddleware, config=csrf),
        ],
        exception_handlers={
            **error_pages(lambda request: session.visitor_of(request, calls)),
            SignInFirst: sign_in_first,
            PerkRefused: lambda request, refused: perk_refused(request, refused, calls),
        },
        response_headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
        include_in_schema=False,  # for every page controller below it: pages are not the API
    )
    return WebApp(
        routers=[pages, *asset_routers()],
        stores={session.SESSION_STORE: session.session_store(settings)},
        templates=_templates(),
    )
