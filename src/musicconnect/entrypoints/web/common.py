"""What every page handler shares: the injected calls and visitor, forms, redirects, error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated, Any, Final, TypeAlias
from urllib.parse import quote

from litestar import Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.di import NamedDependency
from litestar.enums import MediaType, RequestEncodingType
from litestar.exceptions import ClientException, HTTPException
from litestar.params import Body, SkipValidation
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import DomainError, Forbidden, InvalidInput
from musicconnect.entrypoints.http.errors import EXCEPTION_HANDLERS, status_of
from musicconnect.entrypoints.web.calls import WebCalls

#: The bound use cases. Name the parameter ``calls``.
CallsDep: TypeAlias = NamedDependency[SkipValidation[WebCalls]]
#: The signed-in visitor or None. Name the parameter ``visitor``.
VisitorDep: TypeAlias = NamedDependency[SkipValidation[Caller | None]]
#: The CSRF settings, for routes that check the token themselves. Name the parameter ``csrf``.
CsrfDep: TypeAlias = NamedDependency[SkipValidation[CSRFConfig]]
#: A urlencoded form's fields.
Form: TypeAlias = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
#: For the routes the pages' script reads (uploads, track status, playlists): the API's JSON errors.
JSON_ERRORS: Final[ExceptionHandlersMap] = dict(EXCEPTION_HANDLERS)
#: Pages that show someone's own data are not kept by shared caches.
PRIVATE: Final = {"Cache-Control": "private, no-store"}
#: Sent by the pages' script on requests it makes itself (it then swaps in the page's main part).
SCRIPT_HEADER: Final = "x-musicconnect-nav"


#: The player's master playlists.
HLS_MEDIA_TYPE: Final = "application/vnd.apple.mpegurl"


def playlist_route(path: str) -> get:
    """A GET route answering the player a master playlist (its errors in JSON, for the script)."""
    return get(path, sync_to_thread=True, media_type=HLS_MEDIA_TYPE, exception_handlers=JSON_ERRORS)


def playlist(text: str) -> Response[str]:
    """A master playlist for this visitor only: signed for their tier, so never shared by caches."""
    return Response(content=text, media_type=HLS_MEDIA_TYPE, headers=PRIVATE)


class SignInFirst(Exception):  # noqa: N818 - reads as the instruction it carries
    """The page needs a signed-in visitor: answered with a redirect to the sign-in page."""


def page(
    name: str,
    visitor: Caller | None,
    *,
    status_code: int = 200,
    refused: DomainError | None = None,
    **context: Any,
) -> Template:
    """The page ``name``; with ``refused``, a form's page shown again saying what the use case
    refused, with the status the one error table gives it (as the API would answer)."""
    if refused is not None:
        status_code = status_of(refused)
        context["error"] = refused.detail
    return Template(
        template_name=name,
        context={"visitor": visitor, "is_artist": _is(visitor, Role.ARTIST), "is_fan": _is(visitor, Role.FAN)}
        | context,
        status_code=status_code,
        headers=PRIVATE,
        # Whatever the route answers otherwise (an upload answers its script in JSON).
        media_type=MediaType.HTML,
    )


def _is(visitor: Caller | None, role: Role) -> bool:
    return visitor is not None and visitor.role is role


def see_other(path: str) -> Redirect:
    return Redirect(path=path, status_code=303)


def require_visitor(visitor: Caller | None, role: Role | None = None) -> Caller:
    if visitor is None:
        raise SignInFirst
    if role is not None and visitor.role is not role:
        raise Forbidden(f"this page is for {role}s")
    return visitor


def form_text(data: dict[str, str], field: str) -> str:
    """A form field as typed; a textarea's line breaks, which browsers send as CRLF, as the plain
    line feeds the domain keeps."""
    return data.get(field, "").replace("\r\n", "\n")


def utc_instant(text: str, field: str) -> datetime:
    """A datetime-local field's value, which carries no zone, read as UTC (as the forms say)."""
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"{field} must be a date and time") from None


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default``: no open redirects."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def sign_in_first(request: Request[Any, Any, Any], _: SignInFirst) -> Response[Any]:
    return see_other(f"/signin?next={quote(request.url.path)}")


log = logging.getLogger(__name__)
#: How an error handler learns who is signed in (it has no dependency injection).
VisitorOf: TypeAlias = Callable[[Request[Any, Any, Any]], Caller | None]


def error_pages(visitor_of: VisitorOf) -> ExceptionHandlersMap:
    """The API's error handlers (status, detail, logging: one table), answered as a web page that
    keeps the signed-in navigation."""

    def as_page(json_handler: Callable[[Request[Any, Any, Any], Any], Response[Any]]) -> Any:
        def handler(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
            answer = json_handler(request, error)
            body = answer.content if isinstance(answer.content, dict) else {}
            return page(
                "error.html",
                _visitor_or_none(visitor_of, request),
                status_code=answer.status_code or HTTPStatus.INTERNAL_SERVER_ERROR,
                message=str(body.get("detail", "")),
            )

        return handler

    pages = {kind: as_page(handler) for kind, handler in EXCEPTION_HANDLERS.items()}

    def undecodable_form(request: Request[Any, Any, Any], _: UnicodeDecodeError) -> Response[Any]:
        # Litestar decodes a multipart part without a file name as UTF-8 text (while finding the
        # CSRF token, before any handler runs): bytes that are not text are the client's mistake.
        refused = ClientException("a form field is not UTF-8 text")
        return pages[HTTPException](request, refused)  # type: ignore[no-any-return]

    return pages | {UnicodeDecodeError: undecodable_form}


def _visitor_or_none(visitor_of: VisitorOf, request: Request[Any, Any, Any]) -> Caller | None:
    """Who is signed in, if that can still be told: the error may be the store that says so failing."""
    try:
        return visitor_of(request)
    except Exception:  # an error page must render whatever broke
        log.warning("error page shown without the visitor: the session could not be read", exc_info=True)
        return None
