"""Assembling the app: one per Platform, and shutting it down closes it."""

from __future__ import annotations

import attrs
from litestar import Litestar
from litestar.testing import TestClient

from musicconnect.bootstrap import Services
from musicconnect.entrypoints.http import create_app
from musicconnect.platform import Platform
from musicconnect.ports.repositories import UnitOfWork


def test_shutdown_closes_the_services(services: Services) -> None:
    """The app's on_shutdown hook runs Services.close, which runs every registered closer."""
    closed: list[str] = []
    services.closers.append(lambda: closed.append("queue"))
    app = create_app(Platform.of(services))
    assert isinstance(app, Litestar)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        assert closed == []
    assert closed == ["queue"]
    assert services.closers == []


def test_each_request_gets_its_own_unit_of_work(services: Services) -> None:
    """services.uow() is called once per request that needs one, never shared between requests."""
    made: list[UnitOfWork] = []
    factory = services.uow

    def counting() -> UnitOfWork:
        made.append(factory())
        return made[-1]

    with TestClient(create_app(Platform.of(attrs.evolve(services, uow=counting)))) as client:
        client.get("/artists/nobody")
        client.get("/artists/nobody")
        client.get("/health")
    assert len(made) == 2
    assert made[0] is not made[1]
