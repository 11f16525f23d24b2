"""Browser sessions: server-side, in Redis when configured, else in files in the data folder.

The cookie holds only a random session id (HttpOnly, SameSite=Lax, Secure over https). The session
holds the account id and when it signed in; each request asks the accounts use case whether that
sign-in still stands (a password reset or an erasure ends it, as it ends token logins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from hmac import compare_digest
from typing import Any, Final

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Message, ScopeSession

from musicconnect.domain.accounts import Account, Caller
from musicconnect.domain.errors import AuthenticationFailed
from musicconnect.entrypoints.web.calls import WebCalls
from musicconnect.settings import Settings

SESSION_STORE: Final = "web-sessions"
SESSION_COOKIE: Final = "mc_session"
CSRF_COOKIE: Final = "mc_csrf"
CSRF_HEADER: Final = "x-csrftoken"
SESSION_LIFETIME: Final = timedelta(days=14)
_ACCOUNT: Final = "account_id"
_SINCE: Final = "signed_in_at"
_ROTATE: Final = "musicconnect_rotate_session"
_NEW_ID: Final = "musicconnect_new_session_id"


def secure_cookies(settings: Settings) -> bool:
    """Secure cookies when the app is served over https (as its public URL says)."""
    return settings.public_base_url.lower().startswith("https://")


def session_store(settings: Settings) -> Store:
    """Redis when configured (shared by every API process), else files in the data folder."""
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=settings.redis_url, namespace="musicconnect-web-sessions")
    from litestar.stores.file import FileStore

    return FileStore(settings.data_dir / "web-sessions", create_directories=True)


class _SignedInSessions(ServerSideSessionBackend):
    """Litestar's server-side sessions, with two changes: an anonymous visit stores nothing and
    sets no cookie (a crawler would otherwise leave a file per page view), and signing in starts
    a new session id (a session id planted before sign-in never becomes a signed-in one)."""

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        old_id = connection.cookies.get(self.config.key)
        if not scope_session and old_id is None:
            return  # nothing to keep and nothing to end
        if getattr(connection.state, _ROTATE, False) and old_id:
            await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
            connection.state[_NEW_ID] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        rotated = connection.state.get(_NEW_ID)
        return rotated if isinstance(rotated, str) else super().get_session_id(connection)


@dataclass
class _SessionConfig(ServerSideSessionConfig):
    _backend_class = _SignedInSessions


def session_config(settings: Settings) -> ServerSideSessionConfig:
    return _SessionConfig(
        key=SESSION_COOKIE,
        store=SESSION_STORE,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        secure=secure_cookies(settings),
        samesite="lax",
        renew_on_access=False,
    )


def csrf_config(settings: Settings, secret: str) -> CSRFConfig:
    """Double-submit tokens on every unsafe request of the web pages (not the bearer API): forms
    carry ``_csrf_token``, scripts send the ``X-CSRFToken`` header from the page's meta tag."""
    return CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_httponly=True,
        cookie_secure=secure_cookies(settings),
        cookie_samesite="lax",
    )


def sign_in(request: Request[Any, Any, Any], account: Account, now: datetime) -> None:
    # Whole seconds, as Account.ending_sessions keeps them: a reset in the same second ends it.
    request.set_session({_ACCOUNT: account.id, _SINCE: now.replace(microsecond=0).isoformat()})
    request.state[_ROTATE] = True


def sign_out(request: Request[Any, Any, Any]) -> None:
    request.clear_session()


def visitor_of(request: Request[Any, Any, Any], calls: WebCalls) -> Caller | None:
    """The signed-in caller of this browser, or None; a session that no longer stands is ended."""
    session = request.session if "session" in request.scope else {}
    account_id, since = session.get(_ACCOUNT), session.get(_SINCE)
    if not isinstance(account_id, str) or not isinstance(since, str):
        return None
    try:
        return calls.resume(account_id, datetime.fromisoformat(since))
    except (AuthenticationFailed, ValueError):
        sign_out(request)
        return None


def check_csrf(request: Request[Any, Any, Any], config: CSRFConfig, form_token: str | None = None) -> None:
    """The double-submit check Litestar's CSRF middleware makes, for a route that streams its body
    (the middleware would read a whole upload into memory to find the form's token): the header's
    token, else the form's ``_csrf_token``, must be one this app signed and equal the cookie's."""
    token = request.headers.get(config.header_name) or form_token
    cookie = request.cookies.get(config.cookie_name)
    signed = [_signed_secret(t, config.secret) for t in (token, cookie)]
    if signed[0] is None or signed[1] is None or not compare_digest(signed[0], signed[1]):
        raise PermissionDeniedException("CSRF token verification failed")


def _signed_secret(token: str | None, secret: str) -> str | None:
    if token is None or len(token) <= CSRF_SECRET_LENGTH:
        return None
    value, mac = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
    return value if compare_digest(mac, generate_csrf_hash(token=value, secret=secret)) else None
