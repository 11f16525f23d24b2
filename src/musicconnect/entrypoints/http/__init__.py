"""The HTTP API: ``create_app(platform)`` builds the Litestar application."""

from musicconnect.entrypoints.http.app import create_app

__all__ = ["create_app"]
