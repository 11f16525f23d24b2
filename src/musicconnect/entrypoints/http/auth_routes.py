"""Registering, logging in, refreshing and revoking tokens."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from musicconnect.entrypoints.http.auth import BEARER, bearer_token
from musicconnect.entrypoints.http.deps import CallerDep, ServicesDep, UowDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import (
    LoginIn,
    LogoutIn,
    RefreshIn,
    RegisteredOut,
    RegisterIn,
    TokenOut,
)
from musicconnect.usecases import accounts


class AuthController(Controller):
    path = "/auth"
    tags = ("auth",)

    @post("/register", status_code=HTTP_201_CREATED, sync_to_thread=True, responses=error_responses(409))
    def register(self, *, data: JSONBody[RegisterIn], services: ServicesDep, uow: UowDep) -> RegisteredOut:
        """Create a fan or artist account (an artist gets the three default tiers)."""
        account = accounts.register(
            accounts.Register(
                email=data.email, password=data.password, role=data.role, display_name=data.display_name
            ),
            uow=uow,
            hasher=services.hasher,
            ids=services.ids,
            clock=services.clock,
            admin_emails=services.settings.admin_email_set,
        )
        return RegisteredOut.of(account)

    @post("/login", status_code=HTTP_200_OK, sync_to_thread=True, responses=error_responses(401))
    def login(self, *, data: JSONBody[LoginIn], services: ServicesDep, uow: UowDep) -> TokenOut:
        """Trade an email and password for an access and a refresh token."""
        pair = accounts.login(
            data.email, data.password, uow=uow, hasher=services.hasher, tokens=services.tokens
        )
        return TokenOut.of(pair)

    @post("/refresh", status_code=HTTP_200_OK, sync_to_thread=True, responses=error_responses(401))
    def refresh(self, *, data: JSONBody[RefreshIn], services: ServicesDep) -> TokenOut:
        """Trade a refresh token for a new pair; the old refresh token is spent."""
        pair = accounts.refresh(data.refresh_token, tokens=services.tokens, denylist=services.denylist)
        return TokenOut.of(pair)

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        security=BEARER,
        responses=error_responses(401),
    )
    def logout(
        self,
        *,
        request: Request[Any, Any, Any],
        caller: CallerDep,  # noqa: ARG002 - depending on it refuses missing, bad and revoked tokens
        services: ServicesDep,
        data: JSONBody[LogoutIn | None] = None,
    ) -> None:
        """Revoke the bearer token, and the refresh token when one is sent."""
        token = bearer_token(request)
        if token is None:  # pragma: no cover - the caller dependency has already refused this
            return
        access = services.tokens.decode(token, kind="access")
        refresh_claims = (
            services.tokens.decode(data.refresh_token, kind="refresh")
            if data and data.refresh_token
            else None
        )
        accounts.logout(access, denylist=services.denylist, refresh_claims=refresh_claims)
