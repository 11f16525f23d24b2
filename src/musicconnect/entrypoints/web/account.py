"""Signing up, in and out, following a verification link, resetting a password: in a browser."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template

from musicconnect.domain.errors import DomainError
from musicconnect.domain.throttling import Action
from musicconnect.entrypoints.http.auth_routes import after_answering, client_address
from musicconnect.entrypoints.web import session
from musicconnect.entrypoints.web.common import CallsDep, Form, VisitorDep, local_path, page, see_other


class AccountPages(Controller):
    path = "/"

    @get("/signup", sync_to_thread=False)
    def sign_up_form(self, *, visitor: VisitorDep) -> Template:
        return page("signup.html", visitor, form={})

    @post("/signup", sync_to_thread=True)
    def sign_up(
        self, *, request: Request[Any, Any, Any], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Template | Redirect:
        email = data.get("email", "")
        try:
            calls.throttle(Action.REGISTER, address=client_address(request), email=email)
            calls.sign_up(
                email=email,
                password=data.get("password", ""),
                role=data.get("role", "fan"),
                display_name=data.get("display_name", ""),
            )
            # The same answer whether or not the email was known: sign in with the password.
            account = calls.sign_in(email, data.get("password", ""))
        except DomainError as error:
            form = {k: v for k, v in data.items() if k != "password"}
            return page("signup.html", visitor, refused=error, form=form)
        session.sign_in(request, account, calls.now())
        return see_other("/studio" if account.role == "artist" else "/")

    @get("/signin", sync_to_thread=False)
    def sign_in_form(
        self, *, visitor: VisitorDep, next_path: Annotated[str | None, QueryParameter(name="next")] = None
    ) -> Template:
        return page("signin.html", visitor, next=local_path(next_path), email="")

    @post("/signin", sync_to_thread=True)
    def sign_in(
        self, *, request: Request[Any, Any, Any], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Template | Redirect:
        email, target = data.get("email", ""), local_path(data.get("next"))
        try:
            calls.throttle(Action.LOGIN, address=client_address(request), email=email)
            account = calls.sign_in(email, data.get("password", ""))
        except DomainError as error:
            return page("signin.html", visitor, refused=error, next=target, email=email)
        session.sign_in(request, account, calls.now())
        return see_other(target)

    @post("/signout", sync_to_thread=False)
    def sign_out(self, *, request: Request[Any, Any, Any]) -> Redirect:
        session.sign_out(request)
        return see_other("/")

    @get("/verify-email", sync_to_thread=True)
    def verify_email(self, *, calls: CallsDep, visitor: VisitorDep, token: FromQuery[str] = "") -> Template:
        try:
            account = calls.confirm_email(token[:200])
        except DomainError as error:
            return page(
                "message.html", visitor, status_code=401, title="Link not valid", message=error.detail
            )
        return page(
            "message.html", visitor, title="Email confirmed", message=f"{account.email} is confirmed."
        )

    @get("/reset-password", sync_to_thread=False)
    def reset_form(self, *, visitor: VisitorDep, token: FromQuery[str] = "") -> Template:
        return page("reset.html", visitor, token=token[:200], sent=False)

    @post("/reset-password", sync_to_thread=True)
    def request_reset(
        self, *, request: Request[Any, Any, Any], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Template:
        email = data.get("email", "")
        try:
            calls.throttle(Action.RESET, address=client_address(request), email=email)
            mail = after_answering(calls.request_reset, email)
        except DomainError as error:
            return page("reset.html", visitor, refused=error, token="", sent=False)
        # The same answer, as quick, for known and unknown addresses: the email goes after it.
        answer = page("reset.html", visitor, token="", sent=True)
        answer.background = mail
        return answer

    @post("/reset-password/confirm", sync_to_thread=True)
    def confirm_reset(self, *, data: Form, calls: CallsDep, visitor: VisitorDep) -> Template:
        token = data.get("token", "")[:200]
        try:
            calls.reset_password(token, data.get("password", ""))
        except DomainError as error:
            return page("reset.html", visitor, refused=error, token=token, sent=False)
        return page(
            "message.html", visitor, title="Password changed", message="Sign in with your new password."
        )
