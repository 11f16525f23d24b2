"""The web pages' one way into the use cases: the Platform's bound groups, as the pages need them.

Handlers call these and nothing else of the core; each method is a thin composition of bound
use cases (``Platform``), so the pages and the JSON API share one wiring.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from musicconnect.domain.accounts import Account, Artist, Caller
from musicconnect.domain.analytics import Dashboard
from musicconnect.domain.errors import NotFound
from musicconnect.domain.live import LiveSession
from musicconnect.domain.messages import Conversation, DirectMessage
from musicconnect.domain.money import Money
from musicconnect.domain.notifications import Notification, NotificationKind
from musicconnect.domain.payments import Payout
from musicconnect.domain.qa import QaSession
from musicconnect.domain.subscriptions import Subscription
from musicconnect.domain.throttling import Action
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.domain.tracks import Track, TrackEdit
from musicconnect.platform import Platform
from musicconnect.ports.payments import ReturnUrls
from musicconnect.settings import Settings
from musicconnect.usecases.accounts import Register
from musicconnect.usecases.library import FollowedArtist, LikedTrack, PlayedTrack
from musicconnect.usecases.live import IssuedKey
from musicconnect.usecases.qa import QaPage
from musicconnect.usecases.subscriptions import TierChangeResult, TierQuote
from musicconnect.usecases.tracks import IngestTrack


@attrs.frozen
class ArtistPage:
    artist: Artist
    tracks: Sequence[Track]
    #: The visitor's live subscription with this artist, if any.
    subscription: Subscription | None
    #: The tier the visitor enjoys now (free for strangers and artists).
    tier: Tier


@attrs.frozen
class LibraryPage:
    #: The fan's subscriptions, live and ended, each with its artist.
    subscriptions: Sequence[tuple[Subscription, Artist]]
    following: Sequence[FollowedArtist]
    likes: Sequence[LikedTrack]
    history: Sequence[PlayedTrack]


@attrs.frozen
class WebCalls:
    platform: Platform

    @property
    def settings(self) -> Settings:
        return self.platform.settings

    @property
    def max_upload_bytes(self) -> int:
        return self.platform.tracks.policy.max_bytes

    def now(self) -> datetime:
        return self.platform.services.clock.now()

    # --- accounts -----------------------------------------------------------------------------

    def throttle(self, action: Action, *, address: str, email: str | None) -> None:
        self.platform.throttling.count(action, account=email, address=address)

    def sign_up(self, *, email: str, password: str, role: str, display_name: str) -> Account:
        command = Register(email=email, password=password, role=role, display_name=display_name)
        return self.platform.accounts.register(command)

    def sign_in(self, email: str, password: str) -> Account:
        return self.platform.accounts.check_credentials(email, password)

    def resume(self, account_id: str, signed_in_at: datetime) -> Caller:
        return self.platform.accounts.resume_session(account_id, signed_in_at)

    def confirm_email(self, token: str) -> Account:
        return self.platform.profiles.confirm_email(token)

    def request_reset(self, email: str) -> None:
        self.platform.profiles.request_password_reset(email)

    def reset_password(self, token: str, password: str) -> None:
        self.platform.profiles.reset_password(token, password)

    # --- fans ---------------------------------------------------------------------------------

    def discover(self, name: str) -> Sequence[Artist]:
        return self.platform.artists.discover(name)

    def artist_page(self, artist_id: str, visitor: Caller | None) -> ArtistPage:
        p = self.platform
        artist = p.artists.view(artist_id, visitor_id=visitor.id if visitor else None)
        shown = p.tracks.of_artist(artist_id, caller=visitor)
        live, tier = p.billing.standing_with(artist_id, caller=visitor)
        return ArtistPage(artist, shown, live, tier)

    def track(self, track_id: str, visitor: Caller | None) -> Track:
        return self.platform.tracks.view(track_id, caller=visitor)

    def master_playlist(self, track_id: str, caller: Caller) -> str:
        return self.platform.streaming.master_playlist(track_id, caller=caller)

    def record_play(self, track_id: str, caller: Caller) -> bool:
        return self.platform.library.play(track_id, caller=caller)

    def follow(self, artist_id: str, caller: Caller, *, on: bool) -> None:
        library = self.platform.library
        (library.follow if on else library.unfollow)(artist_id, caller=caller)

    def like(self, track_id: str, caller: Caller, *, on: bool) -> Track:
        library = self.platform.library
        (library.like if on else library.unlike)(track_id, caller=caller)
        return self.track(track_id, caller)

    def follows(self, artist_id: str, caller: Caller) -> bool:
        return any(f.artist_id == artist_id for f in self.platform.library.following(caller=caller))

    def liked_ids(self, caller: Caller) -> frozenset[str]:
        return frozenset(liked.track.id for liked in self.platform.library.likes(caller=caller))

    def quote(self, artist_id: str, tier: Tier, caller: Caller) -> TierQuote:
        return self.platform.billing.quote(artist_id, tier, caller=caller)

    def change_tier(
        self, artist_id: str, tier: Tier, caller: Caller, return_urls: ReturnUrls | None
    ) -> TierChangeResult:
        """Subscribe, upgrade, downgrade or cancel (the free tier): whichever moves the fan to ``tier``."""
        billing = self.platform.billing
        if self.quote(artist_id, tier, caller).current is None:
            return billing.subscribe(artist_id, tier, caller=caller, return_urls=return_urls)
        return billing.change_tier(artist_id, tier, caller=caller, return_urls=return_urls)

    def library(self, caller: Caller) -> LibraryPage:
        """The fan's subscriptions (each with its artist), follows, likes and listening history."""
        p = self.platform
        subscriptions = p.billing.of_fan(caller)
        by_id = {artist_id: p.artists.view(artist_id) for artist_id in {s.artist_id for s in subscriptions}}
        return LibraryPage(
            subscriptions=[(sub, by_id[sub.artist_id]) for sub in subscriptions],
            following=p.library.following(caller=caller),
            likes=p.library.likes(caller=caller),
            history=p.library.history(caller=caller),
        )

    # --- perks: the monthly Q&A, direct messages, live sessions, notifications -----------------

    def qa_sessions(self, artist_id: str, caller: Caller) -> Sequence[QaSession]:
        return self.platform.qa.sessions(artist_id, caller=caller)

    def qa_page(self, qa_id: str, caller: Caller) -> QaPage:
        return self.platform.qa.page(qa_id, caller=caller)

    def open_qa(self, caller: Caller, *, title: str, description: str) -> QaSession:
        return self.platform.qa.open(caller.id, title, description, caller=caller)

    def close_qa(self, qa_id: str, caller: Caller) -> None:
        self.platform.qa.close(qa_id, caller=caller)

    def ask(self, qa_id: str, body: str, caller: Caller) -> None:
        self.platform.qa.ask(qa_id, body, caller=caller)

    def upvote(self, qa_id: str, question_id: str, caller: Caller) -> None:
        self.platform.qa.upvote(qa_id, question_id, caller=caller)

    def answer(self, qa_id: str, question_id: str, body: str, caller: Caller) -> None:
        self.platform.qa.answer(qa_id, question_id, body, caller=caller)

    def hide(self, qa_id: str, question_id: str, caller: Caller, *, hidden: bool) -> None:
        self.platform.qa.hide(qa_id, question_id, hidden=hidden, caller=caller)

    def fan_thread(self, artist_id: str, caller: Caller) -> Sequence[DirectMessage]:
        return self.platform.conversations.fan_thread(artist_id, caller=caller)

    def send_message(self, artist_id: str, body: str, caller: Caller) -> None:
        self.platform.conversations.send(artist_id, body, caller=caller)

    def inbox(self, caller: Caller) -> Sequence[tuple[Conversation, str]]:
        """The artist's conversations, latest first, each with the fan's name."""
        conversations = self.platform.conversations
        names = conversations.fan_names(caller.id, caller=caller)
        return [(c, names.get(c.fan_id, "a fan")) for c in conversations.inbox(caller.id, caller=caller)]

    def artist_thread(self, fan_id: str, caller: Caller) -> Sequence[DirectMessage]:
        return self.platform.conversations.artist_thread(caller.id, fan_id, caller=caller)

    def reply(self, fan_id: str, body: str, caller: Caller) -> None:
        self.platform.conversations.reply(caller.id, fan_id, body, caller=caller)

    def live_sessions(self, artist_id: str) -> Sequence[LiveSession]:
        return self.platform.live.of_artist(artist_id)

    def schedule_live(self, caller: Caller, *, title: str, starts_at: datetime) -> IssuedKey:
        return self.platform.live.schedule(caller.id, title=title, starts_at=starts_at, caller=caller)

    def end_live(self, session_id: str, caller: Caller) -> None:
        self.platform.live.end(session_id, caller=caller)

    def live_master(self, session_id: str, caller: Caller) -> str:
        return self.platform.live.authorise_stream(session_id, caller=caller)

    def notifications(self, caller: Caller) -> tuple[Sequence[Notification], frozenset[NotificationKind]]:
        """The fan's feed, newest first, and the kinds they also get by email."""
        notifications = self.platform.notifications
        return notifications.feed(caller=caller), notifications.email_kinds(caller=caller)

    def mark_read(self, caller: Caller) -> None:
        self.platform.notifications.mark_read(None, caller=caller)

    def choose_email(self, kinds: frozenset[NotificationKind], caller: Caller) -> None:
        self.platform.notifications.choose_email(kinds, caller=caller)

    # --- artists ------------------------------------------------------------------------------

    def own_tracks(self, caller: Caller) -> Sequence[Track]:
        return self.platform.tracks.of_artist(caller.id, caller=caller)

    def own_artist(self, caller: Caller) -> Artist:
        return self.artist(caller.id)

    def artist(self, artist_id: str) -> Artist:
        return self.platform.artists.view(artist_id)

    def edit_profile(self, caller: Caller, *, bio: str, links: Sequence[str]) -> Artist:
        return self.platform.artists.edit_profile(caller.id, bio=bio, links=links, caller=caller)

    def set_tier_price(self, caller: Caller, tier: Tier, price: str, features: Sequence[str]) -> TierPlan:
        current = self.own_artist(caller).plan(tier)
        amount = Money.parse(price, current.price.currency)
        return self.platform.artists.set_tier(caller.id, tier, price=amount, features=features, caller=caller)

    def own_track(self, track_id: str, caller: Caller) -> Track:
        """One of the caller's tracks (NotFound for someone else's, as for a stranger)."""
        track = self.platform.tracks.view(track_id, caller=caller)
        if track.artist_id != caller.id and not caller.is_admin:
            raise NotFound(f"no track {track_id}")
        return track

    def edit_track(self, track_id: str, edit: TrackEdit, caller: Caller) -> Track:
        return self.platform.tracks.edit(track_id, edit, caller=caller)

    def delete_track(self, track_id: str, caller: Caller) -> None:
        self.platform.tracks.delete(track_id, caller=caller)

    def ingest(self, command: IngestTrack, caller: Caller) -> Track:
        return self.platform.tracks.ingest(command, caller=caller)

    def dashboard(self, caller: Caller) -> Dashboard:
        return self.platform.dashboard.of_artist(caller.id, caller=caller)

    def start_onboarding(self, caller: Caller, *, back_to: str) -> str:
        """The processor's page where the artist sets up payouts; it sends them back to ``back_to``."""
        link = self.platform.payouts.start_onboarding(
            caller.id, caller=caller, refresh_url=back_to, return_url=back_to
        )
        return link.url

    def payouts(self, caller: Caller) -> Sequence[Payout]:
        return self.platform.payouts.of_artist(caller.id, caller=caller)
