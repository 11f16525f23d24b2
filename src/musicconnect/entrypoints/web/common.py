"""What every page handler shares: the injected calls and visitor, forms, redirects, error pages."""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeAlias
from urllib.parse import quote

from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, SkipValidation
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import DomainError, Forbidden
from musicconnect.entrypoints.http.errors import domain_error_handler, status_of
from musicconnect.entrypoints.web.calls import WebCalls

#: The bound use cases. Name the parameter ``calls``.
CallsDep: TypeAlias = NamedDependency[SkipValidation[WebCalls]]
#: The signed-in visitor or None. Name the parameter ``visitor``.
VisitorDep: TypeAlias = NamedDependency[SkipValidation[Caller | None]]
#: A urlencoded form's fields.
Form: TypeAlias = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
#: For the routes the pages' script reads (uploads, track status, playlists): the API's JSON errors.
JSON_ERRORS: Final[ExceptionHandlersMap] = {DomainError: domain_error_handler}
#: Pages that show someone's own data are not kept by shared caches.
PRIVATE: Final = {"Cache-Control": "private, no-store"}
#: Sent by the pages' script on requests it makes itself (it then swaps in the page's main part).
SCRIPT_HEADER: Final = "x-musicconnect-nav"


class SignInFirst(Exception):  # noqa: N818 - reads as the instruction it carries
    """The page needs a signed-in visitor: answered with a redirect to the sign-in page."""


def page(name: str, visitor: Caller | None, *, status_code: int = 200, **context: Any) -> Template:
    return Template(
        template_name=name,
        context={"visitor": visitor, "is_artist": _is(visitor, Role.ARTIST), "is_fan": _is(visitor, Role.FAN)}
        | context,
        status_code=status_code,
        headers=PRIVATE,
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


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default``: no open redirects."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def sign_in_first(request: Request[Any, Any, Any], _: SignInFirst) -> Response[Any]:
    return see_other(f"/signin?next={quote(request.url.path)}")


def error_page(_: Request[Any, Any, Any], error: DomainError) -> Response[Any]:
    return page("error.html", None, status_code=status_of(error), message=error.detail)
