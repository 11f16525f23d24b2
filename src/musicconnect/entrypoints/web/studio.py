"""The artist's studio: tracks and uploads, tier prices, the dashboard as charts, payouts."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import attrs
from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_202_ACCEPTED

from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.errors import DomainError, InvalidInput
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import TrackEdit
from musicconnect.entrypoints.http.tracks import ingest_command
from musicconnect.entrypoints.http.uploads import ReceivedForm, spooled_form
from musicconnect.entrypoints.web import session
from musicconnect.entrypoints.web.calls import WebCalls
from musicconnect.entrypoints.web.common import (
    JSON_ERRORS,
    PRIVATE,
    SCRIPT_HEADER,
    CallsDep,
    CsrfDep,
    Form,
    VisitorDep,
    form_text,
    page,
    require_visitor,
    see_other,
    utc_instant,
)


class StudioPages(Controller):
    path = "/studio"

    @get("/", sync_to_thread=True)
    def studio(self, *, calls: CallsDep, visitor: VisitorDep) -> Template:
        artist = require_visitor(visitor, Role.ARTIST)
        return page("studio.html", visitor, artist=calls.own_artist(artist), tracks=calls.own_tracks(artist))

    @post("/profile", sync_to_thread=True)
    def edit_profile(self, *, data: Form, calls: CallsDep, visitor: VisitorDep) -> Template | Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        try:
            calls.edit_profile(artist, bio=form_text(data, "bio"), links=data.get("links", "").splitlines())
        except DomainError as error:
            return self._studio_again(calls, artist, error)
        return see_other("/studio?saved=profile")

    @staticmethod
    def _studio_again(calls: WebCalls, artist: Caller, error: DomainError) -> Template:
        """The studio with what went wrong said at the top."""
        return page(
            "studio.html",
            artist,
            refused=error,
            artist=calls.own_artist(artist),
            tracks=calls.own_tracks(artist),
        )

    @post("/tiers/{tier:str}", sync_to_thread=True)
    def set_tier(
        self, *, tier: FromPath[str], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Template | Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        features = [f.strip() for f in data.get("features", "").split(",") if f.strip()]
        try:
            calls.set_tier_price(artist, Tier.parse(tier), data.get("price", ""), features)
        except DomainError as error:
            return self._studio_again(calls, artist, error)
        return see_other(f"/studio?saved={tier}")

    @post(
        "/tracks",
        status_code=HTTP_202_ACCEPTED,
        request_max_body_size=None,
        exception_handlers=JSON_ERRORS,
        # Checked below: the middleware would read the whole file into memory to find the form's token.
        opt={"exclude_from_csrf": True},
    )
    async def upload(
        self, *, request: Request[Any, Any, Any], calls: CallsDep, visitor: VisitorDep, csrf: CsrfDep
    ) -> dict[str, str] | Redirect | Template:
        """The upload form's file, streamed to disk as it arrives. The page's script sends the
        CSRF header and shows the progress (answered in JSON); a browser without scripts posts the
        plain form with its token field and gets the studio back."""
        artist = require_visitor(visitor, Role.ARTIST)
        scripted = request.headers.get(csrf.header_name) is not None
        if scripted:
            session.check_csrf(request, csrf)
        token_checked = scripted
        try:
            async with spooled_form(
                request.stream(),
                content_type=request.headers.get("content-type"),
                content_length=request.content_length,
                scratch_root=calls.settings.data_dir / "tmp" / "uploads",
                max_file_bytes=calls.max_upload_bytes,
            ) as received:
                form = received
                if not scripted:
                    session.check_csrf(request, csrf, form.fields.get("_csrf_token"))
                    token_checked = True
                    form = _release_in_utc(form)
                command = ingest_command(artist.id, form)
                track = await anyio.to_thread.run_sync(lambda: calls.ingest(command, artist))
        except DomainError as error:
            if not token_checked:
                # A body that is no form has no token to read: refused as any form without one
                # (403), never answered with the studio.
                session.check_csrf(request, csrf)
            if scripted:
                raise
            refusal = error
            return await anyio.to_thread.run_sync(lambda: self._studio_again(calls, artist, refusal))
        if scripted:
            return {"track_id": track.id, "status": track.status.value}
        return see_other(f"/studio?uploaded={track.id}")

    @get(
        "/tracks/{track_id:str}",
        sync_to_thread=True,
        response_headers=PRIVATE,
        exception_handlers=JSON_ERRORS,
    )
    def track_status(
        self, *, track_id: FromPath[str], calls: CallsDep, visitor: VisitorDep
    ) -> dict[str, Any]:
        track = calls.own_track(track_id, require_visitor(visitor, Role.ARTIST))
        return {
            "track_id": track.id,
            "title": track.title,
            "status": track.status.value,
            "progress_percent": None if track.progress is None else round(track.progress * 100),
            "rungs_kbps": list(track.rungs_kbps),
            "measured_kbps": [round(r.average_kbps) for r in track.rates],
            "failure_reason": track.failure_reason,
        }

    @get("/tracks/{track_id:str}/edit", sync_to_thread=True)
    def edit_track_form(self, *, track_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Template:
        track = calls.own_track(track_id, require_visitor(visitor, Role.ARTIST))
        return page("track_edit.html", visitor, track=track, tiers=list(Tier))

    @post("/tracks/{track_id:str}/edit", sync_to_thread=True)
    def edit_track(
        self, *, track_id: FromPath[str], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Template | Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        try:
            calls.edit_track(track_id, _track_edit(data), artist)
        except InvalidInput as error:
            track = calls.own_track(track_id, artist)
            return page("track_edit.html", visitor, refused=error, track=track, tiers=list(Tier))
        return see_other(f"/studio?saved=track#track-{track_id}")

    @post("/tracks/{track_id:str}/delete", sync_to_thread=True)
    def delete_track(self, *, track_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Redirect:
        calls.delete_track(track_id, require_visitor(visitor, Role.ARTIST))
        return see_other("/studio?deleted=1")

    @get("/dashboard", sync_to_thread=True)
    def dashboard(self, *, calls: CallsDep, visitor: VisitorDep) -> Template:
        board = calls.dashboard(require_visitor(visitor, Role.ARTIST))
        return page("dashboard.html", visitor, board=board)

    @post("/payouts/onboarding", sync_to_thread=True)
    def start_onboarding(
        self, *, request: Request[Any, Any, Any], calls: CallsDep, visitor: VisitorDep
    ) -> Redirect | Template:
        """Connect onboarding: the processor's page, then back to the payouts page."""
        artist = require_visitor(visitor, Role.ARTIST)
        base = calls.settings.public_base_url or str(request.base_url)
        url = calls.start_onboarding(artist, back_to=f"{base.rstrip('/')}/studio/payouts")
        if request.headers.get(SCRIPT_HEADER):
            return page("leave.html", visitor, url=url)
        return Redirect(path=url, status_code=303)

    @get("/payouts", sync_to_thread=True)
    def payouts(self, *, calls: CallsDep, visitor: VisitorDep) -> Template:
        payouts = calls.payouts(require_visitor(visitor, Role.ARTIST))
        on_stripe = calls.settings.stripe_api_key is not None
        return page("payouts.html", visitor, payouts=payouts, stripe=on_stripe)


def _release_in_utc(form: ReceivedForm) -> ReceivedForm:
    """A form posted without scripts carries the datetime-local field as typed, with no zone
    (the script sends the instant in UTC): read it as UTC, as the form's label says."""
    release = form.fields.get("release_at", "").strip()
    if not release or release.endswith("Z") or "+" in release[10:] or "-" in release[10:]:
        return form
    return attrs.evolve(form, fields=form.fields | {"release_at": f"{release}Z"})


def _track_edit(data: dict[str, str]) -> TrackEdit:
    """The edit form's fields: every one is sent, so each is set (an empty date releases at once).
    The date is typed without a zone and read as UTC, as the form says."""
    release = data.get("release_at", "").strip()
    release_at = utc_instant(release, "release_at") if release else None
    return TrackEdit(
        title=data.get("title", ""),
        description=form_text(data, "description"),
        required_tier=Tier.parse(data.get("required_tier", "")),
        release_at=release_at,
        clear_release=release_at is None,
    )
