"""The one map from errors to HTTP responses: every error body is ``{"error": code, "detail": text}``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Final

from litestar import MediaType, Request, Response
from litestar.exceptions import ClientException, HTTPException, SerializationException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from musicconnect.domain import errors
from musicconnect.entrypoints.http.schemas import ErrorBody

log = logging.getLogger(__name__)

#: Domain error class -> status. Looked up along the exception's MRO, so subclasses are found first.
DOMAIN_STATUS: Final[dict[type[errors.DomainError], int]] = {
    errors.InvalidInput: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.AuthenticationFailed: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.QuotaExceeded: HTTPStatus.TOO_MANY_REQUESTS,
    errors.MediaTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    errors.MediaRejected: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.SignatureInvalid: HTTPStatus.FORBIDDEN,
    errors.InsufficientBalance: HTTPStatus.CONFLICT,
    errors.PaymentFailed: HTTPStatus.PAYMENT_REQUIRED,
    errors.ServiceUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}
#: Seconds a client should wait before retrying when a backing service is down.
RETRY_AFTER_S: Final = 5


def status_of(error: errors.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        content={"error": code, "detail": detail},
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def domain_error_handler(_: Request[Any, Any, Any], exc: errors.DomainError) -> Response[Any]:
    status = status_of(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.AuthenticationFailed):
        headers["WWW-Authenticate"] = "Bearer"
    elif isinstance(exc, errors.ServiceUnavailable):
        headers["Retry-After"] = str(RETRY_AFTER_S)
    elif isinstance(exc, errors.QuotaExceeded) and exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        log.error("request failed: %s: %s", exc.code, exc.detail)
    return error_response(status, exc.code, exc.detail, headers or None)


def _validation_detail(exc: ValidationException) -> str:
    problems = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for problem in problems:
        if isinstance(problem, dict):
            where = problem.get("key") or problem.get("source") or "body"
            if (where, problem.get("message")) == ("data", "'data'"):
                # Litestar's words for a request that sent no body at all.
                parts.append("this request needs a JSON body")
                continue
            parts.append(f"{where}: {problem.get('message', 'invalid')}")
    return "; ".join(parts) or str(exc.detail)


def _code_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own errors (routing, validation, body limits) in our body shape."""
    if isinstance(exc, ValidationException):
        # Well-formed JSON of the wrong shape or type: the same 422 as the domain's InvalidInput.
        return error_response(
            HTTPStatus.UNPROCESSABLE_ENTITY, errors.InvalidInput.code, _validation_detail(exc)
        )
    if isinstance(exc, ClientException) and isinstance(
        exc.__cause__, (SerializationException, RecursionError)
    ):
        return error_response(HTTPStatus.BAD_REQUEST, "malformed_json", str(exc.detail))
    if exc.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        return error_response(exc.status_code, "payload_too_large", str(exc.detail))
    if exc.status_code == HTTPStatus.INTERNAL_SERVER_ERROR:
        # Litestar wraps failures it cannot attribute to the client (e.g. a dependency that broke).
        return internal_error_handler(request, exc)
    detail = str(exc.detail) or _code_for(exc.status_code)
    return error_response(exc.status_code, _code_for(exc.status_code), detail, exc.headers)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "an unexpected error occurred")


EXCEPTION_HANDLERS: Final[ExceptionHandlersMap] = {
    errors.DomainError: domain_error_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}

_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Malformed request (e.g. JSON that does not parse)",
    401: "Missing, invalid, expired or revoked bearer token",
    402: "The payment was declined",
    403: "Not allowed: wrong role, not the owner, tier too low, or a bad media signature"
    " (url_expired: the signed URL's time is up; fetch a fresh master playlist)",
    404: "No such resource (or one the caller may not see)",
    409: "Conflicts with the current state",
    413: "The upload is larger than the limit",
    422: "Well-formed but invalid input",
    429: "Quota exceeded",
    503: "A backing service is unavailable; retry later",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses a route may answer, all in the ``ErrorBody`` shape.

    400 and 422 are always listed: they replace the default validation-error schema, which
    describes Litestar's body shape rather than ours.
    """
    wanted = sorted({400, 422, *statuses})
    return {
        status: ResponseSpec(
            data_container=ErrorBody, description=_DESCRIPTIONS[status], generate_examples=False
        )
        for status in wanted
    }
