"""Every error, whoever raises it, has the body {"error", "detail"} and a fitting status."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Self

import attrs
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from musicconnect.bootstrap import Services
from musicconnect.domain import errors
from musicconnect.entrypoints.http import create_app
from musicconnect.entrypoints.http.errors import DOMAIN_STATUS, status_of
from musicconnect.platform import Platform
from tests.unit.http.conftest import Api, assert_error


def test_malformed_json_is_400(api: Api) -> None:
    """A body that is not JSON at all is a 400 malformed_json."""
    response = api.client.post(
        "/auth/login", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")


def test_json_of_the_wrong_shape_is_422(api: Api) -> None:
    """Well-formed JSON with missing fields or wrong types is a 422 invalid_input."""
    assert_error(api.client.post("/auth/login", json={"email": "a@example.com"}), 422, "invalid_input")
    assert_error(api.client.post("/auth/login", json=["a", "b"]), 422, "invalid_input")
    assert_error(api.client.post("/auth/login", json={"email": 5, "password": "x"}), 422, "invalid_input")


def test_an_empty_body_where_one_is_required_is_422(api: Api) -> None:
    """No body at all is a missing body, not a crash."""
    assert_error(api.client.post("/auth/login"), 422, "invalid_input")


def test_an_unknown_route_is_404_in_our_shape(api: Api) -> None:
    """Litestar's own 404 uses the same body shape."""
    assert_error(api.client.get("/no/such/route"), 404, "not_found")


def test_a_wrong_method_is_405_in_our_shape(api: Api) -> None:
    """Litestar's own 405 uses the same body shape."""
    assert_error(api.client.delete("/health"), 405, "method_not_allowed")


def test_an_oversized_json_body_is_413(api: Api) -> None:
    """JSON routes cap their bodies at 1 MiB."""
    response = api.client.post(
        "/auth/login", content=b" " * (1024 * 1024 + 1), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


def test_every_domain_error_has_a_status() -> None:
    """The one map covers every DomainError subclass, most specific class first."""
    assert status_of(errors.MediaTooLarge("x")) == 413
    assert status_of(errors.MediaRejected("x")) == 422
    assert status_of(errors.SignatureInvalid("x")) == 403
    assert status_of(errors.PaymentFailed("x")) == 402
    assert status_of(errors.InsufficientBalance("x")) == 409
    assert status_of(errors.ServiceUnavailable("x")) == 503
    subclasses = set(errors.DomainError.__subclasses__()) | set(errors.MediaRejected.__subclasses__())
    assert subclasses <= set(DOMAIN_STATUS)


class _BrokenUnitOfWork:
    def __enter__(self) -> Self:
        raise RuntimeError("disk on fire")

    def __exit__(self, *_: object) -> None:
        return None


class _DownUnitOfWork:
    def __enter__(self) -> Self:
        raise errors.ServiceUnavailable("the database is unreachable")

    def __exit__(self, *_: object) -> None:
        return None


@pytest.fixture
def broken_client(services: Services) -> Iterator[TestClient[Litestar]]:
    broken = attrs.evolve(services, uow=_BrokenUnitOfWork)  # type: ignore[arg-type]
    with TestClient(create_app(Platform.of(broken))) as client:
        yield client


def test_an_unexpected_exception_is_a_logged_500(
    broken_client: TestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    """Bugs answer 500 internal_error without leaking the exception, and are logged."""
    with caplog.at_level(logging.ERROR, logger="musicconnect.entrypoints.http.errors"):
        response = broken_client.get("/artists/someone")
    assert_error(response, 500, "internal_error")
    assert "disk on fire" not in response.text
    assert any("disk on fire" in str(record.exc_info) for record in caplog.records)


def test_a_backing_service_down_is_503_with_retry_after(services: Services) -> None:
    """ServiceUnavailable becomes a 503 that tells the client to retry."""
    down = attrs.evolve(services, uow=_DownUnitOfWork)  # type: ignore[arg-type]
    with TestClient(create_app(Platform.of(down))) as client:
        response = client.get("/artists/someone")
    assert_error(response, 503, "service_unavailable")
    assert int(response.headers["retry-after"]) > 0
