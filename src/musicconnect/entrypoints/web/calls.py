"""The web pages' one way into the use cases: each method binds the ports a use case needs.

Handlers call these and nothing else of the core, so moving to use cases bound once in a typed
container (issue 16) changes this module, not the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from musicconnect.bootstrap import Services
from musicconnect.domain.accounts import Account, Artist, Caller
from musicconnect.domain.analytics import Dashboard
from musicconnect.domain.money import Money
from musicconnect.domain.payments import Payout
from musicconnect.domain.subscriptions import Subscription
from musicconnect.domain.throttling import Action
from musicconnect.domain.tiers import Tier, TierPlan
from musicconnect.domain.tracks import Track
from musicconnect.ports.payments import ReturnUrls
from musicconnect.usecases import accounts, artists, dashboard, engagement, payouts, profile, tracks
from musicconnect.usecases.streaming import authorise_stream
from musicconnect.usecases.subscriptions import TierChangeResult, TierQuote
from musicconnect.usecases.throttling import throttle


@attrs.frozen
class ArtistPage:
    artist: Artist
    tracks: Sequence[Track]
    #: The visitor's live subscription with this artist, if any.
    subscription: Subscription | None
    #: The tier the visitor enjoys now (free for strangers and artists).
    tier: Tier


@attrs.frozen
class WebCalls:
    services: Services

    # --- accounts -----------------------------------------------------------------------------

    def throttle(self, action: Action, *, address: str, email: str | None) -> None:
        s = self.services
        throttle(action, account=email, address=address, policy=s.throttle, quota=s.quota, clock=s.clock)

    def sign_up(self, *, email: str, password: str, role: str, display_name: str) -> Account:
        s = self.services
        command = accounts.Register(email=email, password=password, role=role, display_name=display_name)
        return accounts.register(command, uow=s.uow(), hasher=s.hasher, ids=s.ids, clock=s.clock, mail=s.mail)

    def sign_in(self, email: str, password: str) -> Account:
        return accounts.check_credentials(
            email, password, uow=self.services.uow(), hasher=self.services.hasher
        )

    def resume(self, account_id: str, signed_in_at: datetime) -> Caller:
        return accounts.resume_session(account_id, signed_in_at, uow=self.services.reader())

    def now(self) -> datetime:
        return self.services.clock.now()

    def confirm_email(self, token: str) -> Account:
        return profile.confirm_email(token, uow=self.services.uow(), mail=self.services.mail)

    def request_reset(self, email: str) -> None:
        profile.request_password_reset(email, uow=self.services.uow(), mail=self.services.mail)

    def reset_password(self, token: str, password: str) -> None:
        s = self.services
        profile.reset_password(token, password, uow=s.uow(), hasher=s.hasher, mail=s.mail, clock=s.clock)

    def account(self, caller: Caller) -> Account:
        return profile.my_account(caller, uow=self.services.reader())

    # --- fans ---------------------------------------------------------------------------------

    def discover(self, name: str) -> Sequence[Artist]:
        return artists.discover(name, uow=self.services.reader())

    def artist_page(self, artist_id: str, visitor: Caller | None) -> ArtistPage:
        s = self.services
        artist = artists.view_artist(
            artist_id, uow=s.uow(), clock=s.clock, visitor_id=visitor.id if visitor else None
        )
        shown = tracks.tracks_of_artist(artist_id, caller=visitor, uow=s.reader(), clock=s.clock)
        uow = s.reader()
        with uow:
            tier = tracks.caller_tier(visitor, artist_id, uow=uow, clock=s.clock)
            live = uow.subscriptions.live_for(visitor.id, artist_id) if visitor else None
        return ArtistPage(artist, shown, live, tier)

    def track(self, track_id: str, visitor: Caller | None) -> Track:
        return tracks.view_track(
            track_id, caller=visitor, uow=self.services.reader(), clock=self.services.clock
        )

    def master_playlist(self, track_id: str, caller: Caller) -> str:
        s = self.services
        return authorise_stream(
            track_id,
            caller=caller,
            uow=s.reader(),
            tracks=s.ready_tracks,
            cache=s.cache,
            signer=s.signer,
            clock=s.clock,
            ttl=s.url_ttl,
        )

    def record_play(self, track_id: str, caller: Caller) -> bool:
        s = self.services
        return engagement.record_play(track_id, caller=caller, uow=s.uow(), quota=s.quota, clock=s.clock)

    def follow(self, artist_id: str, caller: Caller) -> None:
        engagement.follow(artist_id, caller=caller, uow=self.services.uow(), clock=self.services.clock)

    def like(self, track_id: str, caller: Caller) -> Track:
        engagement.like(track_id, caller=caller, uow=self.services.uow(), clock=self.services.clock)
        return self.track(track_id, caller)

    def quote(self, artist_id: str, tier: Tier, caller: Caller) -> TierQuote:
        return self.services.subscriptions.quote(artist_id, tier, caller=caller)

    def change_tier(
        self, artist_id: str, tier: Tier, caller: Caller, return_urls: ReturnUrls | None
    ) -> TierChangeResult:
        """Subscribe, upgrade, downgrade or cancel (the free tier): whichever moves the fan to ``tier``."""
        subscriptions = self.services.subscriptions
        if self.quote(artist_id, tier, caller).current is None:
            return subscriptions.subscribe(artist_id, tier, caller=caller, return_urls=return_urls)
        return subscriptions.change_tier(artist_id, tier, caller=caller, return_urls=return_urls)

    def library(self, caller: Caller) -> Sequence[tuple[Subscription, Artist]]:
        """The fan's subscriptions, live and ended, each with its artist."""
        s = self.services
        subscriptions = s.subscriptions.of_fan(caller)
        artists_by_id = {
            artist_id: artists.view_artist(artist_id, uow=s.reader(), clock=s.clock)
            for artist_id in {sub.artist_id for sub in subscriptions}
        }
        return [(sub, artists_by_id[sub.artist_id]) for sub in subscriptions]

    # --- artists ------------------------------------------------------------------------------

    def own_tracks(self, caller: Caller) -> Sequence[Track]:
        s = self.services
        return tracks.tracks_of_artist(caller.id, caller=caller, uow=s.reader(), clock=s.clock)

    def own_artist(self, caller: Caller) -> Artist:
        return artists.view_artist(caller.id, uow=self.services.reader(), clock=self.services.clock)

    def edit_profile(self, caller: Caller, *, bio: str, links: Sequence[str]) -> Artist:
        return artists.edit_profile(caller.id, bio=bio, links=links, caller=caller, uow=self.services.uow())

    def set_tier_price(self, caller: Caller, tier: Tier, price: str, features: Sequence[str]) -> TierPlan:
        s = self.services
        current = self.own_artist(caller).plan(tier)
        amount = Money.parse(price, current.price.currency)
        return artists.set_tier(
            caller.id, tier, price=amount, features=features, caller=caller, uow=s.uow(), clock=s.clock
        )

    def ingest(self, command: tracks.IngestTrack, caller: Caller) -> Track:
        s = self.services
        return tracks.ingest_track(
            command,
            caller=caller,
            uow=s.uow(),
            probe=s.probe,
            storage=s.storage,
            jobs=s.jobs,
            ids=s.ids,
            clock=s.clock,
            policy=s.policy,
        )

    def dashboard(self, caller: Caller) -> Dashboard:
        return dashboard.build_dashboard(
            caller.id, caller=caller, uow=self.services.uow(), clock=self.services.clock
        )

    def start_onboarding(self, caller: Caller, *, back_to: str) -> str:
        """The processor's page where the artist sets up payouts; it sends them back to ``back_to``."""
        s = self.services
        link = payouts.start_payouts_onboarding(
            caller.id,
            caller=caller,
            refresh_url=back_to,
            return_url=back_to,
            uow=s.uow(),
            accounts=s.payments.accounts,
            clock=s.clock,
        )
        return link.url

    def payouts(self, caller: Caller) -> Sequence[Payout]:
        return payouts.payouts_of(caller.id, caller=caller, uow=self.services.reader())
