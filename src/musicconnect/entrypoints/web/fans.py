"""What fans see: discover, an artist's page, listening, and moving between tiers."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_204_NO_CONTENT

from musicconnect.domain.accounts import Role
from musicconnect.domain.errors import DomainError
from musicconnect.domain.tiers import Tier
from musicconnect.entrypoints.web.common import (
    SCRIPT_HEADER,
    CallsDep,
    Form,
    VisitorDep,
    local_path,
    page,
    playlist,
    playlist_route,
    require_visitor,
    see_other,
)


class FanPages(Controller):
    path = "/"

    @get("/", sync_to_thread=True)
    def discover(self, *, calls: CallsDep, visitor: VisitorDep, q: FromQuery[str] = "") -> Template:
        query = q[:100]
        return page("discover.html", visitor, artists=calls.discover(query), q=query)

    @get("/artist/{artist_id:str}", sync_to_thread=True)
    def artist(self, *, artist_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Template:
        shown = calls.artist_page(artist_id, visitor)
        fan = visitor if visitor is not None and visitor.role is Role.FAN else None
        return page(
            "artist.html",
            visitor,
            page=shown,
            tiers=list(Tier),
            follows=fan is not None and calls.follows(artist_id, fan),
            liked=calls.liked_ids(fan) if fan is not None else frozenset(),
        )

    @get("/artist/{artist_id:str}/join", sync_to_thread=True)
    def confirm_tier(
        self, *, artist_id: FromPath[str], calls: CallsDep, visitor: VisitorDep, tier: FromQuery[str] = "free"
    ) -> Template:
        """What moving to ``tier`` costs now and when it takes effect, before the fan confirms."""
        fan = require_visitor(visitor, Role.FAN)
        chosen = Tier.parse(tier)
        shown = calls.artist_page(artist_id, fan)
        quote = calls.quote(artist_id, chosen, fan)
        return page("confirm.html", visitor, page=shown, quote=quote, plan=shown.artist.plan(chosen))

    @post("/artist/{artist_id:str}/join", sync_to_thread=True)
    def change_tier(
        self,
        *,
        request: Request[Any, Any, Any],
        artist_id: FromPath[str],
        data: Form,
        calls: CallsDep,
        visitor: VisitorDep,
    ) -> Redirect | Template:
        """Subscribe, upgrade, downgrade or cancel; a processor's payment page when it hosts one."""
        fan = require_visitor(visitor, Role.FAN)
        result = calls.change_tier(artist_id, Tier.parse(data.get("tier", "")), fan, return_urls=None)
        if result.checkout is not None:
            if request.headers.get(SCRIPT_HEADER):
                # A script cannot follow a redirect to another origin: it is told where to go.
                return page("leave.html", visitor, url=result.checkout.url)
            return Redirect(path=result.checkout.url, status_code=303)
        return see_other(f"/artist/{artist_id}?changed={result.subscription.tier}")

    @post("/artist/{artist_id:str}/follow", sync_to_thread=True)
    def follow(
        self, *, artist_id: FromPath[str], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Redirect:
        """Follow, or unfollow with ``follow=0``; back to where the button was."""
        on = data.get("follow", "1") != "0"
        calls.follow(artist_id, require_visitor(visitor, Role.FAN), on=on)
        return see_other(local_path(data.get("back"), f"/artist/{artist_id}"))

    @post("/track/{track_id:str}/like", sync_to_thread=True)
    def like(self, *, track_id: FromPath[str], data: Form, calls: CallsDep, visitor: VisitorDep) -> Redirect:
        """Like, or unlike with ``like=0``; back to where the button was."""
        on = data.get("like", "1") != "0"
        track = calls.like(track_id, require_visitor(visitor, Role.FAN), on=on)
        return see_other(local_path(data.get("back"), f"/artist/{track.artist_id}"))

    @get("/library", sync_to_thread=True)
    def library(self, *, calls: CallsDep, visitor: VisitorDep) -> Template:
        fan = require_visitor(visitor, Role.FAN)
        return page("library.html", visitor, library=calls.library(fan))

    @playlist_route("/listen/{track_id:str}")
    def master(self, *, track_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Response[str]:
        """The visitor's master playlist: exactly their tier's rungs, signed like the API's."""
        return playlist(calls.master_playlist(track_id, require_visitor(visitor)))

    @post("/listen/{track_id:str}/play", sync_to_thread=True, status_code=HTTP_204_NO_CONTENT)
    def played(self, *, track_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> None:
        listener = require_visitor(visitor)
        if listener.role is Role.FAN:
            try:
                calls.record_play(track_id, listener)
            except DomainError:
                return  # a play that does not count (throttled) is not the listener's problem

    @get("/checkout/success", sync_to_thread=False)
    def checkout_success(self, *, visitor: VisitorDep) -> Template:
        return page(
            "message.html",
            visitor,
            title="Thank you",
            message="Your payment went through. Your new tier starts as soon as the processor confirms it.",
        )

    @get("/checkout/canceled", sync_to_thread=False)
    def checkout_canceled(self, *, visitor: VisitorDep) -> Template:
        return page("message.html", visitor, title="Payment canceled", message="Nothing was charged.")
