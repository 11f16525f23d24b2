"""Direct messages as conversations: a superfan writes (five a month), the artist replies freely.

Reading needs no tier: a fan who dropped below superfan still reads their old threads, but only
a fan whose entitlements grant ``Feature.DIRECT_MESSAGES`` at that instant may write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from musicconnect.domain.accounts import Caller
from musicconnect.domain.clocks import month_key, next_month_start
from musicconnect.domain.entitlements import DM_PER_MONTH, entitlements
from musicconnect.domain.errors import Forbidden, NotFound, QuotaExceeded
from musicconnect.domain.messages import Conversation, DirectMessage, check_body, dm_quota_key
from musicconnect.domain.notifications import Announcement, NotificationKind
from musicconnect.domain.tiers import Feature
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.ports.services import Clock, IdGenerator, QuotaCounter
from musicconnect.usecases.access import require_artist, require_fan, require_owner
from musicconnect.usecases.notifications import Notifications


@attrs.frozen
class Conversations:
    """The direct-message use cases, bound once to their ports."""

    uow: Callable[[], UnitOfWork]
    quota: QuotaCounter
    ids: IdGenerator
    clock: Clock
    notifications: Notifications | None = None

    def send(self, artist_id: str, body: str, *, caller: Caller) -> DirectMessage:
        """A superfan's message to the artist, at most five per artist per calendar month (UTC)."""
        require_fan(caller)
        text = check_body(body)
        now = self.clock.now()
        with self.uow() as uow:
            require_artist(uow, artist_id)
            rights = entitlements(uow.subscriptions.live_for(caller.id, artist_id), now)
        if not rights.has(Feature.DIRECT_MESSAGES):
            raise Forbidden("direct messages are for superfans")
        key = dm_quota_key(caller.id, artist_id, month_key(now))
        if not self.quota.acquire(key, limit=DM_PER_MONTH, resets_at=next_month_start(now)):
            raise QuotaExceeded(f"{DM_PER_MONTH} messages a month; the quota resets on the 1st")
        message = DirectMessage(
            id=self.ids.new_id(), fan_id=caller.id, artist_id=artist_id, body=text, sent_at=now
        )
        try:
            self._store(message)
        except BaseException:
            self.quota.release(key)  # the message was not stored, so it must not use up the quota
            raise
        return message

    def reply(self, artist_id: str, fan_id: str, body: str, *, caller: Caller) -> DirectMessage:
        """The artist's answer in a conversation a fan began: no quota, whatever the fan's tier."""
        require_owner(caller, artist_id)
        text = check_body(body)
        now = self.clock.now()
        with self.uow() as uow:
            require_artist(uow, artist_id)
            if not uow.messages.thread(fan_id, artist_id):
                raise NotFound(f"no conversation with fan {fan_id}")
        message = DirectMessage(
            id=self.ids.new_id(), fan_id=fan_id, artist_id=artist_id, body=text, sent_at=now, from_artist=True
        )
        self._store(message)
        if self.notifications is not None:
            self.notifications.announce(
                Announcement(
                    NotificationKind.DM_REPLY,
                    artist_id,
                    message.id,
                    "The artist replied to you",
                    now,
                    (fan_id,),
                )
            )
        return message

    def fan_thread(self, artist_id: str, *, caller: Caller) -> Sequence[DirectMessage]:
        """The caller's conversation with the artist, newest first; the artist's replies become read."""
        require_fan(caller)
        return self._read(caller.id, artist_id, by_artist=False)

    def artist_thread(self, artist_id: str, fan_id: str, *, caller: Caller) -> Sequence[DirectMessage]:
        """One conversation for the artist, newest first; the fan's messages become read."""
        require_owner(caller, artist_id)
        return self._read(fan_id, artist_id, by_artist=True)

    def inbox(self, artist_id: str, *, caller: Caller) -> Sequence[Conversation]:
        """The artist's conversations, latest first, each with what the artist has not read."""
        require_owner(caller, artist_id)
        with self.uow() as uow:
            require_artist(uow, artist_id)
            return uow.messages.conversations(artist_id)

    def fan_names(self, artist_id: str, *, caller: Caller) -> dict[str, str]:
        """The display names of the fans who wrote to the artist (for the artist's inbox)."""
        require_owner(caller, artist_id)
        with self.uow() as uow:
            require_artist(uow, artist_id)
            names = {}
            for conversation in uow.messages.conversations(artist_id):
                account = uow.accounts.get(conversation.fan_id)
                names[conversation.fan_id] = account.display_name if account is not None else "a former fan"
            return names

    def received(self, artist_id: str, *, caller: Caller) -> Sequence[DirectMessage]:
        """Every message fans sent the artist, oldest first (the flat inbox; replies left out)."""
        require_owner(caller, artist_id)
        with self.uow() as uow:
            require_artist(uow, artist_id)
            return uow.messages.to_artist(artist_id)

    def _read(self, fan_id: str, artist_id: str, *, by_artist: bool) -> Sequence[DirectMessage]:
        with self.uow() as uow:
            require_artist(uow, artist_id)
            # What the reader sees shows what was unread when they opened it.
            thread = uow.messages.thread(fan_id, artist_id)
            if any(m.from_artist is not by_artist and m.read_at is None for m in thread):
                uow.messages.mark_read(fan_id, artist_id, by_artist=by_artist, at=self.clock.now())
                uow.commit()
            return thread

    def _store(self, message: DirectMessage) -> None:
        with self.uow() as uow:
            uow.messages.add(message)
            uow.commit()
