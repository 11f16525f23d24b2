"""What every response and request goes through: security headers, and a JSON nesting limit; and
the check of a route's query parameters."""

from __future__ import annotations

import re
from typing import Any, Final

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import ClientException
from litestar.types import Message, Scope

from musicconnect.domain.errors import InvalidInput

#: Deeper JSON is refused before any parser recurses into it (a 1,000-deep body overflowed the stack).
MAX_JSON_DEPTH: Final = 32
#: A string (possessive, and ending at the end of the body if it is never closed, so the scan stays
#: linear even on hostile input) or a bracket: one left-to-right pass over the body.
_TOKENS: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\Z)|[\[\]{}]', re.DOTALL)
_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
_HSTS: Final = "max-age=63072000; includeSubDomains"


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body`` (brackets inside strings do not count)."""
    depth = deepest = 0
    for token in _TOKENS.finditer(body):
        found = token.group()
        if found in {b"[", b"{"}:
            depth += 1
            deepest = max(deepest, depth)
        elif found in {b"]", b"}"}:
            depth -= 1
    return deepest


async def refuse_deep_json(request: Request[Any, Any, Any]) -> None:
    """A before-request hook: 400 for a JSON body nested deeper than MAX_JSON_DEPTH."""
    if "json" not in request.headers.get("content-type", ""):
        return
    if json_depth(await request.body()) > MAX_JSON_DEPTH:
        raise ClientException(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A before-send hook: on every response, errors and media included."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in _HEADERS.items():
        if name not in headers:
            headers[name] = value
    # Only over TLS: HSTS on plain HTTP is ignored by browsers and would be wrong on a laptop.
    if scope.get("scheme") == "https" and "Strict-Transport-Security" not in headers:
        headers["Strict-Transport-Security"] = _HSTS


def refuse_unknown_query(request: Request[Any, Any, Any], *known: str) -> None:
    """422 for a query parameter the route does not declare, as bodies refuse unknown fields: a
    misspelt ``?limt=5`` is told so rather than silently ignored."""
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; expected: {', '.join(known)}")
