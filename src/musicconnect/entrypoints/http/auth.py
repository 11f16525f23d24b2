"""Bearer tokens to callers: a required-caller dependency and an optional one for public routes."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request
from litestar.openapi.spec import Reference, SecurityRequirement, SecurityScheme

from musicconnect.domain.accounts import Caller
from musicconnect.domain.errors import AuthenticationFailed
from musicconnect.entrypoints.http.deps import AccountsDep

BEARER_SCHEME: Final = "bearer"
SECURITY_SCHEMES: Final[dict[str, SecurityScheme | Reference]] = {
    BEARER_SCHEME: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
}
#: Put on every route that needs a signed-in caller, so the OpenAPI document says so.
BEARER: Final[list[SecurityRequirement]] = [{BEARER_SCHEME: []}]
#: Public routes that read the caller when one is signed in: the token is optional.
OPTIONAL_BEARER: Final[list[SecurityRequirement]] = [{}, {BEARER_SCHEME: []}]
#: Longer than any token we issue; anything bigger is refused before it is parsed.
_MAX_TOKEN_CHARS: Final = 4096


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header; None when there is no such header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("the Authorization header must be 'Bearer <token>'")
    if len(token) > _MAX_TOKEN_CHARS:
        raise AuthenticationFailed("invalid token")
    return token


def required_bearer_token(request: Request[Any, Any, Any]) -> str:
    """The bearer token of a route that needs one; 401 without it."""
    token = bearer_token(request)
    if token is None:
        raise AuthenticationFailed("sign in: this route needs a bearer token")
    return token


def provide_caller(request: Request[Any, Any, Any], accounts: AccountsDep) -> Caller:
    """The signed-in caller; 401 without a valid, unrevoked access token."""
    return accounts.authenticate(required_bearer_token(request))


def provide_viewer(request: Request[Any, Any, Any], accounts: AccountsDep) -> Caller | None:
    """The caller when a token is sent, None for anonymous requests; a bad token is still a 401."""
    token = bearer_token(request)
    if token is None:
        return None
    return accounts.authenticate(token)
