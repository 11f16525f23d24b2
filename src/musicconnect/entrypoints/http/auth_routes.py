"""Registering, logging in, refreshing and revoking tokens, proving an email, resetting a password."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from musicconnect.domain.accounts import normalise_email
from musicconnect.domain.errors import InvalidInput
from musicconnect.domain.throttling import Action
from musicconnect.entrypoints.http.auth import BEARER, bearer_token
from musicconnect.entrypoints.http.deps import AccountsDep, CallerDep, ProfilesDep, ThrottlingDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import (
    EmailIn,
    LoginIn,
    LogoutIn,
    PasswordResetIn,
    RefreshIn,
    RegisteredOut,
    RegisterIn,
    TokenIn,
    TokenOut,
    VerifiedOut,
)
from musicconnect.usecases.accounts import Register
from musicconnect.usecases.throttling import Throttling

#: Tokens and account data must not be kept by browsers or proxies.
NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def after_answering(work: Callable[[str], None], email: str) -> BackgroundTask:
    """``work(email)`` once the answer is sent. For mail to an address that may or may not have an
    account: a relay takes its time only for a known one, and the answer's time must not tell.
    A malformed address is refused now (InvalidInput, a 422), not in the background."""
    return BackgroundTask(work, normalise_email(email))


def client_address(request: Request[Any, Any, Any]) -> str:
    """The peer's address. Behind a proxy, run uvicorn with --proxy-headers so this is the client's."""
    return request.client.host if request.client is not None else "unknown"


def throttled(
    action: Action, request: Request[Any, Any, Any], throttling: Throttling, email: str | None
) -> None:
    """Count one attempt at ``action`` by this address and (when the email is valid) account."""
    try:
        account = normalise_email(email) if email is not None else None
    except InvalidInput:
        account = None  # the use case refuses it; the address limit still counts the attempt
    throttling.count(action, account=account, address=client_address(request))


class AuthController(Controller):
    path = "/auth"
    tags = ("auth",)
    response_headers = NO_STORE

    @post("/register", status_code=HTTP_201_CREATED, sync_to_thread=True, responses=error_responses(429))
    def register(
        self,
        *,
        request: Request[Any, Any, Any],
        data: JSONBody[RegisterIn],
        accounts: AccountsDep,
        throttling: ThrottlingDep,
    ) -> RegisteredOut:
        """Create a fan or artist account and email a verification link. The answer is the same
        for an email that has an account already (its owner is emailed instead)."""
        throttled(Action.REGISTER, request, throttling, data.email)
        account = accounts.register(
            Register(email=data.email, password=data.password, role=data.role, display_name=data.display_name)
        )
        return RegisteredOut.of(account)

    @post("/login", status_code=HTTP_200_OK, sync_to_thread=True, responses=error_responses(401, 429))
    def login(
        self,
        *,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginIn],
        accounts: AccountsDep,
        throttling: ThrottlingDep,
    ) -> TokenOut:
        """Trade an email and password for an access and a refresh token (a new login)."""
        throttled(Action.LOGIN, request, throttling, data.email)
        return TokenOut.of(accounts.login(data.email, data.password))

    @post("/refresh", status_code=HTTP_200_OK, sync_to_thread=True, responses=error_responses(401))
    def refresh(self, *, data: JSONBody[RefreshIn], accounts: AccountsDep) -> TokenOut:
        """Trade a refresh token for a new pair; the old one is spent, and spending it twice
        revokes every token of the login."""
        return TokenOut.of(accounts.refresh(data.refresh_token))

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
        accounts: AccountsDep,
        data: JSONBody[LogoutIn | None] = None,
    ) -> None:
        """End the login: the bearer token and every token of its family, refresh tokens included.
        A refresh token sent along (of another login of the same account) is ended too."""
        token = bearer_token(request)
        if token is None:  # pragma: no cover - the caller dependency has already refused this
            return
        accounts.logout(token, refresh_token=data.refresh_token if data is not None else None)

    @post(
        "/verify-email",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=error_responses(401, 409),
    )
    def verify_email(self, *, data: JSONBody[TokenIn], profiles: ProfilesDep) -> None:
        """Send the code of a verification email: the address it was sent to is proven."""
        profiles.confirm_email(data.token)

    @get(
        "/verify-email",
        sync_to_thread=True,
        responses=error_responses(401, 409),
    )
    def follow_verification_link(
        self,
        *,
        token: Annotated[str, QueryParameter(max_length=200)],
        profiles: ProfilesDep,
    ) -> VerifiedOut:
        """The link in a verification email, opened in a browser: the address it was sent to is
        proven (the link works once)."""
        profiles.confirm_email(token)
        return VerifiedOut()

    @post(
        "/password-reset", status_code=HTTP_202_ACCEPTED, sync_to_thread=True, responses=error_responses(429)
    )
    def request_reset(
        self,
        *,
        request: Request[Any, Any, Any],
        data: JSONBody[EmailIn],
        profiles: ProfilesDep,
        throttling: ThrottlingDep,
    ) -> Response[None]:
        """Email a single-use reset link if the account exists; the answer is the same, and as
        quick, if not (the email goes after the answer)."""
        throttled(Action.RESET, request, throttling, data.email)
        mail = after_answering(profiles.request_password_reset, data.email)
        return Response(None, status_code=HTTP_202_ACCEPTED, background=mail)

    @post(
        "/password-reset/confirm",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=error_responses(401),
    )
    def confirm_reset(self, *, data: JSONBody[PasswordResetIn], profiles: ProfilesDep) -> None:
        """Set a new password with the token of a reset email; the token works once, for an hour."""
        profiles.reset_password(data.token, data.password)
