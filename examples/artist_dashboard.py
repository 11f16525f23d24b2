"""An artist's dashboard from a script: fans on three tiers play a track over a few days, a billing
month passes, and the artist reads plays, revenue, top fans and the conversion funnel.

Run it: ``python examples/artist_dashboard.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from musicconnect import Caller, IngestTrack, Money, Platform, Register, Tier
from musicconnect.domain.analytics import Dashboard
from musicconnect.testing import FrozenClock, in_memory, write_wav

PASSWORD = "correct horse battery"


def sign_up(platform: Platform, email: str, role: str, name: str) -> Caller:
    platform.accounts.register(Register(email, PASSWORD, role, name))
    return platform.accounts.sign_in(email, PASSWORD)


def build_scene(platform: Platform, clock: FrozenClock, song: Path) -> Caller:
    """An artist, one track, and three fans (free, supporter, superfan) who listen for a week."""
    artist = sign_up(platform, "nova@example.com", "artist", "Nova")
    track = platform.tracks.ingest(IngestTrack(artist.id, "First Light", song), caller=artist)
    fans = {
        tier: sign_up(platform, f"{name.lower()}@example.com", "fan", name)
        for tier, name in zip(Tier, ("Ada", "Ben", "Cleo"), strict=True)
    }
    for tier, fan in fans.items():
        platform.artists.view(artist.id, visitor_id=fan.id)  # a profile visit, for the funnel
        platform.engagement.follow(artist.id, caller=fan)
        platform.billing.subscribe(artist.id, tier, caller=fan)
    for day in range(7):
        for plays, fan in enumerate(fans.values(), start=1):
            for _ in range(plays + day % 2):
                platform.engagement.play(track.id, caller=fan)
                clock.advance(minutes=5)  # a play counts once per fan and track every 30 s
        clock.advance(days=1)
    clock.advance(days=24)
    platform.billing.run_billing()  # the paid subscriptions renew and are charged again
    return artist


def show(board: Dashboard) -> None:
    print(f"plays in 30 days: {sum(board.plays_30d.values())}")
    for revenue in board.revenue_by_currency:
        gross, net = Money(revenue.gross_minor, revenue.currency), Money(revenue.net_minor, revenue.currency)
        print(f"revenue: fans paid {gross.format()}, the artist's share (90 %) {net.format()}")
    print("top fans by plays:", ", ".join(f"{s.display_name} ({s.value})" for s in board.top_fans_by_plays))
    for step in board.funnel:
        print(f"  {step.name}: {step.count}" + ("" if step.rate is None else f" ({step.rate:.0%})"))


def main() -> None:
    clock = FrozenClock()
    with in_memory(clock=clock) as platform, tempfile.TemporaryDirectory() as folder:
        artist = build_scene(platform, clock, write_wav(Path(folder) / "song.wav"))
        show(platform.dashboard.of_artist(artist.id, caller=artist))


if __name__ == "__main__":
    main()
