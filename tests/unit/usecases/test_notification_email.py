"""Notification email, for every kind: through the EmailSender port, only for the kinds a fan
chose, only to a verified address, once per notification."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest

from musicconnect import IngestTrack, Register, Tier
from musicconnect.adapters.memory import FrozenClock, InMemoryEmailSender
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.notifications import Announcement, NotificationKind
from musicconnect.platform import Platform
from musicconnect.testing import in_memory, write_wav
from tests.support.accounts import link_token

START: Final = datetime(2025, 9, 1, 10, 0, tzinfo=UTC)
PASSWORD: Final = "correct horse battery"


def _person(
    platform: Platform, outbox: InMemoryEmailSender, email: str, role: Role, *, verified: bool
) -> Caller:
    account = platform.accounts.register(
        Register(email=email, password=PASSWORD, role=role, display_name=email)
    )
    if verified:
        platform.profiles.confirm_email(link_token(outbox.sent(email)[-1]))
    return Caller(account.id, account.role)


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_each_kind_is_emailed_once_to_verified_fans_who_chose_it(
    tmp_path: Path, kind: NotificationKind
) -> None:
    """Three superfans following the artist get the notification in their feed; only the verified
    one who chose the kind gets an email, with its text, and running the fan-out again sends none."""
    outbox = InMemoryEmailSender()
    platform = in_memory(clock=FrozenClock(START), email=outbox)
    artist = _person(platform, outbox, "artist@example.com", Role.ARTIST, verified=True)
    fans = {
        name: _person(platform, outbox, f"{name}@example.com", Role.FAN, verified=name != "unverified")
        for name in ("chooser", "unverified", "other")
    }
    for name, fan in fans.items():
        platform.billing.subscribe(artist.id, Tier.SUPERFAN, caller=fan)
        platform.library.follow(artist.id, caller=fan)
        wanted = frozenset({kind}) if name != "other" else frozenset(set(NotificationKind) - {kind})
        platform.notifications.choose_email(wanted, caller=fan)
    before = {name: len(outbox.sent(f"{name}@example.com")) for name in fans}
    if kind is NotificationKind.RELEASE_OPEN:
        upload = write_wav(tmp_path / "song.wav", seconds=1.0)
        subject = platform.tracks.ingest(IngestTrack(artist.id, "Aube", upload), caller=artist).id
        recipients: tuple[str, ...] = ()  # the artist's followers who may hear it
    else:
        subject = f"{kind.value}-1"
        recipients = tuple(fan.id for fan in fans.values())
    announcement = Announcement(kind, artist.id, subject, f"News of kind {kind.value}", START, recipients)

    platform.notifications.announce(announcement)
    payload = {
        "kind": kind.value,
        "artist_id": artist.id,
        "subject_id": subject,
        "text": announcement.text,
        "at": START.isoformat(),
        "fan_ids": list(recipients),
    }
    assert platform.notifications.fan_out(payload) == 0  # run again: nothing new, nothing sent

    mailed = {name: outbox.sent(f"{name}@example.com")[before[name] :] for name in fans}
    assert {name: len(messages) for name, messages in mailed.items()} == {
        "chooser": 1,
        "unverified": 0,
        "other": 0,
    }
    assert all(kind in {n.kind for n in platform.notifications.feed(caller=fan)} for fan in fans.values())
    if kind is not NotificationKind.RELEASE_OPEN:
        assert mailed["chooser"][0].subject == announcement.text
