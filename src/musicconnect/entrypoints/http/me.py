"""The signed-in person's own account: ``/me`` to read, change, export and erase it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from musicconnect.entrypoints.http.auth import BEARER, bearer_token
from musicconnect.entrypoints.http.auth_routes import NO_STORE
from musicconnect.entrypoints.http.deps import AccountsDep, CallerDep, ProfilesDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import AccountChangeIn, AccountEraseIn, AccountOut
from musicconnect.usecases.profile import ChangeAccount


class MeController(Controller):
    path = "/me"
    tags = ("me",)
    security = BEARER
    response_headers = NO_STORE

    @get("", sync_to_thread=True, responses=error_responses(401))
    def me(self, *, caller: CallerDep, profiles: ProfilesDep) -> AccountOut:
        """The caller's account."""
        return AccountOut.of(profiles.mine(caller))

    @patch("", sync_to_thread=True, responses=error_responses(401, 409))
    def change(
        self, *, data: JSONBody[AccountChangeIn], caller: CallerDep, profiles: ProfilesDep
    ) -> AccountOut:
        """Change the display name; the password or email with ``current_password``. A new email
        takes effect once the link sent to it is followed."""
        account = profiles.change(
            ChangeAccount(
                display_name=data.display_name,
                email=data.email,
                password=data.password,
                current_password=data.current_password,
            ),
            caller=caller,
        )
        return AccountOut.of(account)

    @post("/verification", status_code=HTTP_202_ACCEPTED, sync_to_thread=True, responses=error_responses(401))
    def resend_verification(self, *, caller: CallerDep, profiles: ProfilesDep) -> None:
        """Send the verification email again."""
        profiles.send_verification(caller)

    @get("/export", sync_to_thread=True, responses=error_responses(401))
    def export(self, *, caller: CallerDep, profiles: ProfilesDep) -> dict[str, Any]:
        """Every piece of personal data kept about the caller, as JSON: the account, an artist's
        profile, tiers, tracks and payouts, subscriptions, messages, and ``engagement`` (follows,
        likes, listening history, Q&A questions and upvotes, DM conversations, notifications and
        email choices; for an artist also their Q&As with their answers, and their DM replies)."""
        return profiles.export(caller)

    @delete("", status_code=HTTP_204_NO_CONTENT, sync_to_thread=True, responses=error_responses(401))
    def erase(
        self,
        *,
        request: Request[Any, Any, Any],
        data: JSONBody[AccountEraseIn],
        caller: CallerDep,
        profiles: ProfilesDep,
        accounts: AccountsDep,
    ) -> None:
        """Erase the account (password required): personal data goes, money records stay anonymised."""
        profiles.erase(caller, data.password)
        token = bearer_token(request)
        if token is not None:
            accounts.logout(token)
