"""The perks as pages: the monthly Q&A, direct messages, live sessions, and the notification feed.

Each page asks the use cases, which ask the fan's entitlements; a refusal becomes a page that
says which tier grants the perk, with a link to join it (``PerkRefused``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.entitlements import entitlements_for_tier
from musicconnect.domain.errors import DomainError, Forbidden, NotFound
from musicconnect.domain.notifications import NotificationKind
from musicconnect.domain.tiers import Feature, lowest_tier_with
from musicconnect.entrypoints.web import session
from musicconnect.entrypoints.web.calls import WebCalls
from musicconnect.entrypoints.web.common import (
    CallsDep,
    Form,
    VisitorDep,
    form_text,
    page,
    playlist,
    playlist_route,
    require_visitor,
    see_other,
    utc_instant,
)

#: Where each kind of notification leads, from the artist's id.
_NOTIFICATION_PAGE: Final = {
    NotificationKind.RELEASE_OPEN: "/artist/{}",
    NotificationKind.QA_OPENED: "/artist/{}/qa",
    NotificationKind.QA_ANSWERED: "/artist/{}/qa",
    NotificationKind.BACKSTAGE_POST: "/artist/{}",
    NotificationKind.DM_REPLY: "/artist/{}/messages",
    NotificationKind.LIVE_SESSION_STARTING: "/artist/{}/live",
}


#: One artist's Q&A, as the web pages address it (the JSON API has ``/qa/{qa_id}``).
_QA: Final = "/artist/{artist_id:str}/qa/{qa_id:str}"

#: How the refusal page names each perk.
_PERK_NAMES: Final = {
    Feature.MONTHLY_QA: "The monthly Q&A",
    Feature.DIRECT_MESSAGES: "Direct messages",
    Feature.LIVE_SESSIONS: "Live sessions",
    Feature.VIRTUAL_BACKSTAGE: "The virtual backstage",
    Feature.EXCLUSIVE_TRACKS: "Exclusive tracks",
    Feature.EARLY_ACCESS: "Early access",
    Feature.FOLLOW: "Following",
    Feature.LIKE: "Likes",
    Feature.STREAM_PUBLIC: "Listening",
}


class PerkRefused(Exception):  # noqa: N818 - reads as what happened
    """A fan asked for a perk their tier does not grant: answered with a page naming the tier."""

    def __init__(self, feature: Feature, artist_id: str, detail: str) -> None:
        super().__init__(detail)
        self.feature = feature
        self.artist_id = artist_id
        self.detail = detail


@contextmanager
def perk(feature: Feature, artist_id: str, visitor: Caller) -> Iterator[None]:
    """A fan's refusal inside the block becomes ``PerkRefused``; anyone else's stays as it is
    (an artist on another artist's Q&A is not told to subscribe)."""
    try:
        yield
    except Forbidden as refused:
        if visitor.role is not Role.FAN:
            raise
        raise PerkRefused(feature, artist_id, refused.detail) from refused


class QaPages(Controller):
    """The monthly Q&A: supporters+ read, ask and upvote; the artist opens, answers, hides, closes."""

    path = "/"

    @get("/artist/{artist_id:str}/qa", sync_to_thread=True)
    def sessions(self, *, artist_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Template:
        reader = require_visitor(visitor)
        artist = calls.artist(artist_id)
        with perk(Feature.MONTHLY_QA, artist_id, reader):
            sessions = calls.qa_sessions(artist_id, reader)
        return page("qa_list.html", visitor, artist=artist, sessions=sessions, now=calls.now())

    @get("/artist/{artist_id:str}/qa/{qa_id:str}", sync_to_thread=True)
    def qa(
        self, *, artist_id: FromPath[str], qa_id: FromPath[str], calls: CallsDep, visitor: VisitorDep
    ) -> Template:
        reader = require_visitor(visitor)
        return self._qa_page(artist_id, qa_id, calls, reader)

    @staticmethod
    def _qa_page(
        artist_id: str,
        qa_id: str,
        calls: CallsDep,
        reader: Caller,
        *,
        refused: DomainError | None = None,
    ) -> Template:
        with perk(Feature.MONTHLY_QA, artist_id, reader):
            shown = calls.qa_page(qa_id, reader)
        if shown.session.artist_id != artist_id:
            raise NotFound(f"no Q&A {qa_id} by artist {artist_id}")
        artist = calls.artist(artist_id)
        return page(
            "qa.html",
            reader,
            refused=refused,
            qa=shown,
            artist=artist,
            is_owner=reader.id == shown.session.artist_id,
            is_open=shown.session.is_open(calls.now()),
        )

    def _act(
        self,
        artist_id: str,
        qa_id: str,
        *,
        calls: CallsDep,
        reader: Caller,
        action: str,
        act: Callable[[], object],
    ) -> Template | Redirect:
        """Run ``act`` on the artist's Q&A; what the use case refuses shows the Q&A again, saying
        what went wrong (a fan whose tier lacks the perk gets the page that says which grants it)."""
        try:
            with perk(Feature.MONTHLY_QA, artist_id, reader):
                act()
        except DomainError as error:
            return self._qa_page(artist_id, qa_id, calls, reader, refused=error)
        return see_other(f"/artist/{artist_id}/qa/{qa_id}?done={action}")

    @post(f"{_QA}/questions", sync_to_thread=True)
    def ask(
        self,
        *,
        artist_id: FromPath[str],
        qa_id: FromPath[str],
        data: Form,
        calls: CallsDep,
        visitor: VisitorDep,
    ) -> Template | Redirect:
        fan = require_visitor(visitor, Role.FAN)
        body = form_text(data, "body")
        return self._act(
            artist_id, qa_id, calls=calls, reader=fan, action="asked", act=lambda: calls.ask(qa_id, body, fan)
        )

    @post(f"{_QA}/questions/{{question_id:str}}/upvote", sync_to_thread=True)
    def upvote(
        self,
        *,
        artist_id: FromPath[str],
        qa_id: FromPath[str],
        question_id: FromPath[str],
        calls: CallsDep,
        visitor: VisitorDep,
    ) -> Template | Redirect:
        fan = require_visitor(visitor, Role.FAN)
        return self._act(
            artist_id,
            qa_id,
            calls=calls,
            reader=fan,
            action="upvoted",
            act=lambda: calls.upvote(qa_id, question_id, fan),
        )

    @post(f"{_QA}/questions/{{question_id:str}}/answer", sync_to_thread=True)
    def answer(
        self,
        *,
        artist_id: FromPath[str],
        qa_id: FromPath[str],
        question_id: FromPath[str],
        data: Form,
        calls: CallsDep,
        visitor: VisitorDep,
    ) -> Template | Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        body = form_text(data, "answer")
        return self._act(
            artist_id,
            qa_id,
            calls=calls,
            reader=artist,
            action="answered",
            act=lambda: calls.answer(qa_id, question_id, body, artist),
        )

    @post(f"{_QA}/questions/{{question_id:str}}/hide", sync_to_thread=True)
    def hide(
        self,
        *,
        artist_id: FromPath[str],
        qa_id: FromPath[str],
        question_id: FromPath[str],
        data: Form,
        calls: CallsDep,
        visitor: VisitorDep,
    ) -> Template | Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        hidden = data.get("hidden", "1") != "0"
        return self._act(
            artist_id,
            qa_id,
            calls=calls,
            reader=artist,
            action="hidden",
            act=lambda: calls.hide(qa_id, question_id, artist, hidden=hidden),
        )

    @post(f"{_QA}/close", sync_to_thread=True)
    def close(
        self, *, artist_id: FromPath[str], qa_id: FromPath[str], calls: CallsDep, visitor: VisitorDep
    ) -> Template | Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        return self._act(
            artist_id,
            qa_id,
            calls=calls,
            reader=artist,
            action="closed",
            act=lambda: calls.close_qa(qa_id, artist),
        )

    @post("/studio/qa", sync_to_thread=True)
    def open(self, *, data: Form, calls: CallsDep, visitor: VisitorDep) -> Template | Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        try:
            session = calls.open_qa(
                artist, title=data.get("title", ""), description=form_text(data, "description")
            )
        except DomainError as error:
            sessions = calls.qa_sessions(artist.id, artist)
            shown = calls.own_artist(artist)
            return page(
                "qa_list.html",
                visitor,
                refused=error,
                artist=shown,
                sessions=sessions,
                now=calls.now(),
            )
        return see_other(f"/artist/{artist.id}/qa/{session.id}")


class MessagePages(Controller):
    """Direct messages: a superfan's conversation with the artist, the artist's inbox and replies."""

    path = "/"

    @get("/artist/{artist_id:str}/messages", sync_to_thread=True)
    def thread(self, *, artist_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Template:
        fan = require_visitor(visitor, Role.FAN)
        return self._thread(artist_id, calls, fan)

    @staticmethod
    def _thread(
        artist_id: str, calls: CallsDep, fan: Caller, *, refused: DomainError | None = None
    ) -> Template:
        shown = calls.artist_page(artist_id, fan)
        messages = calls.fan_thread(artist_id, fan)
        may_write = entitlements_for_tier(shown.tier).has(Feature.DIRECT_MESSAGES)
        return page(
            "messages.html",
            fan,
            refused=refused,
            artist=shown.artist,
            messages=messages,
            tier=shown.tier,
            may_write=may_write,
        )

    @post("/artist/{artist_id:str}/messages", sync_to_thread=True)
    def send(
        self, *, artist_id: FromPath[str], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Template | Redirect:
        fan = require_visitor(visitor, Role.FAN)
        try:
            with perk(Feature.DIRECT_MESSAGES, artist_id, fan):
                calls.send_message(artist_id, form_text(data, "body"), fan)
        except DomainError as error:
            return self._thread(artist_id, calls, fan, refused=error)
        return see_other(f"/artist/{artist_id}/messages?sent=1")

    @get("/studio/messages", sync_to_thread=True)
    def inbox(self, *, calls: CallsDep, visitor: VisitorDep) -> Template:
        artist = require_visitor(visitor, Role.ARTIST)
        return page("inbox.html", visitor, conversations=calls.inbox(artist))

    @get("/studio/messages/{fan_id:str}", sync_to_thread=True)
    def conversation(self, *, fan_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Template:
        artist = require_visitor(visitor, Role.ARTIST)
        return self._conversation(fan_id, calls, artist)

    @staticmethod
    def _conversation(
        fan_id: str, calls: CallsDep, artist: Caller, *, refused: DomainError | None = None
    ) -> Template:
        names = {c.fan_id: name for c, name in calls.inbox(artist)}
        messages = calls.artist_thread(fan_id, artist)
        return page(
            "conversation.html",
            artist,
            refused=refused,
            fan_id=fan_id,
            fan_name=names.get(fan_id, "a fan"),
            messages=messages,
        )

    @post("/studio/messages/{fan_id:str}", sync_to_thread=True)
    def reply(
        self, *, fan_id: FromPath[str], data: Form, calls: CallsDep, visitor: VisitorDep
    ) -> Template | Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        try:
            calls.reply(fan_id, form_text(data, "body"), artist)
        except DomainError as error:
            return self._conversation(fan_id, calls, artist, refused=error)
        return see_other(f"/studio/messages/{fan_id}?sent=1")


class LivePages(Controller):
    """Live sessions: the list on an artist's page, listening in the player, the artist's schedule."""

    path = "/"

    @get("/artist/{artist_id:str}/live", sync_to_thread=True)
    def sessions(self, *, artist_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Template:
        shown = calls.artist_page(artist_id, visitor)
        return page(
            "live.html",
            visitor,
            artist=shown.artist,
            sessions=calls.live_sessions(artist_id),
            tier=shown.tier,
            may_listen=visitor is not None
            and (visitor.id == artist_id or entitlements_for_tier(shown.tier).has(Feature.LIVE_SESSIONS)),
        )

    @playlist_route("/listen/live/{session_id:str}")
    def master(self, *, session_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Response[str]:
        """The live master for the player: the rungs the listener's tier allows, signed."""
        return playlist(calls.live_master(session_id, require_visitor(visitor)))

    @get("/studio/live", sync_to_thread=True)
    def studio(self, *, calls: CallsDep, visitor: VisitorDep) -> Template:
        artist = require_visitor(visitor, Role.ARTIST)
        return page("studio_live.html", visitor, sessions=calls.live_sessions(artist.id), form={})

    @post("/studio/live", sync_to_thread=True)
    def schedule(self, *, data: Form, calls: CallsDep, visitor: VisitorDep) -> Template:
        """Schedules a session and shows its RTMP URL and stream key, once (only a hash is kept)."""
        artist = require_visitor(visitor, Role.ARTIST)
        try:
            issued = calls.schedule_live(
                artist,
                title=data.get("title", ""),
                starts_at=utc_instant(data.get("starts_at", ""), "starts_at"),
            )
        except DomainError as error:
            return page(
                "studio_live.html",
                visitor,
                refused=error,
                sessions=calls.live_sessions(artist.id),
                form=data,
            )
        return page("live_key.html", visitor, issued=issued)

    @post("/studio/live/{session_id:str}/end", sync_to_thread=True)
    def end(self, *, session_id: FromPath[str], calls: CallsDep, visitor: VisitorDep) -> Redirect:
        calls.end_live(session_id, require_visitor(visitor, Role.ARTIST))
        return see_other("/studio/live?ended=1")


class NotificationPages(Controller):
    """A fan's notification feed and which kinds also come by email (the JSON API has ``/notifications``)."""

    path = "/account/notifications"

    @get("/", sync_to_thread=True)
    def feed(self, *, calls: CallsDep, visitor: VisitorDep) -> Template:
        fan = require_visitor(visitor, Role.FAN)
        feed, emailed = calls.notifications(fan)
        return page(
            "notifications.html",
            visitor,
            feed=[(n, _NOTIFICATION_PAGE[n.kind].format(n.artist_id)) for n in feed],
            emailed=emailed,
            kinds=list(NotificationKind),
        )

    @post("/read", sync_to_thread=True)
    def mark_read(self, *, calls: CallsDep, visitor: VisitorDep) -> Redirect:
        calls.mark_read(require_visitor(visitor, Role.FAN))
        return see_other("/account/notifications")

    @post("/email", sync_to_thread=True)
    def choose_email(self, *, data: Form, calls: CallsDep, visitor: VisitorDep) -> Redirect:
        """The checked kinds (a form sends only those) replace the previous choice."""
        fan = require_visitor(visitor, Role.FAN)
        kinds = frozenset(k for k in NotificationKind if data.get(f"email_{k}") == "on")
        calls.choose_email(kinds, fan)
        return see_other("/account/notifications?saved=1")


def perk_refused(request: Request[Any, Any, Any], refused: PerkRefused, calls: WebCalls) -> Response[Any]:
    """The friendly refusal: what the perk is, which tier grants it, and where to join that tier."""
    artist = None
    if refused.artist_id:
        try:
            artist = calls.artist(refused.artist_id)
        except DomainError:
            artist = None
    return page(
        "perk.html",
        session.visitor_of(request, calls),
        status_code=HTTPStatus.FORBIDDEN,
        perk=_PERK_NAMES[refused.feature],
        tier=lowest_tier_with(refused.feature),
        artist=artist,
        detail=refused.detail,
    )
