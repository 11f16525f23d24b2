"""The fan's notification feed, marking it read, and which kinds also come by email."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from musicconnect.domain.notifications import MAX_FEED, NotificationKind
from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.auth_routes import NO_STORE
from musicconnect.entrypoints.http.deps import CallerDep, NotificationsDep
from musicconnect.entrypoints.http.engagement_schemas import (
    EmailKindsIn,
    EmailKindsOut,
    MarkReadIn,
    NotificationOut,
)
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.hardening import refuse_unknown_query


class NotificationController(Controller):
    path = "/me"
    tags = ("notifications",)
    security = BEARER
    response_headers = NO_STORE

    @get("/notifications", sync_to_thread=True, responses=error_responses(401, 403, 422))
    def feed(
        self,
        *,
        request: Request[Any, Any, Any],
        caller: CallerDep,
        notifications: NotificationsDep,
        limit: Annotated[FromQuery[int], Parameter(ge=1, le=MAX_FEED)] = 50,
    ) -> list[NotificationOut]:
        """The caller's notifications, newest first: releases open to them, Q&As opened and
        answered, backstage posts, DM replies, live sessions starting."""
        refuse_unknown_query(request, "limit")
        return [NotificationOut.of(n) for n in notifications.feed(caller=caller, limit=limit)]

    @post(
        "/notifications/read",
        status_code=HTTP_204_NO_CONTENT,
        sync_to_thread=True,
        responses=error_responses(401, 403, 422),
    )
    def mark_read(
        self, *, data: JSONBody[MarkReadIn], caller: CallerDep, notifications: NotificationsDep
    ) -> None:
        """Mark the given notifications read, or every one when ``ids`` is omitted."""
        notifications.mark_read(data.ids, caller=caller)

    @get("/notification-email", sync_to_thread=True, responses=error_responses(401, 403))
    def email_kinds(self, *, caller: CallerDep, notifications: NotificationsDep) -> EmailKindsOut:
        """The kinds of notification the caller also gets by email (to a verified address)."""
        return EmailKindsOut.of(notifications.email_kinds(caller=caller))

    @put("/notification-email", sync_to_thread=True, responses=error_responses(401, 403, 422))
    def choose_email(
        self, *, data: JSONBody[EmailKindsIn], caller: CallerDep, notifications: NotificationsDep
    ) -> EmailKindsOut:
        """Choose which kinds also come by email (replacing the previous choice)."""
        kinds = frozenset(NotificationKind(k) for k in data.kinds)
        return EmailKindsOut.of(notifications.choose_email(kinds, caller=caller))
