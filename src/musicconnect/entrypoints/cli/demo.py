"""``musicconnect demo``: walk the whole product once, on embedded defaults, and exit 0."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from musicconnect.adapters.email import read_outbox
from musicconnect.adapters.ffmpeg import generate_demo_audio
from musicconnect.adapters.memory import FrozenClock
from musicconnect.adapters.pillow import demo_picture
from musicconnect.bootstrap import bootstrap
from musicconnect.domain.accounts import Caller
from musicconnect.domain.clocks import month_key
from musicconnect.domain.errors import Forbidden
from musicconnect.domain.hls import listed_rungs
from musicconnect.domain.money import Money, split_revenue
from musicconnect.domain.payments import Payout
from musicconnect.domain.tiers import Tier
from musicconnect.domain.tracks import TrackStatus
from musicconnect.entrypoints.cli.common import OPERATOR, data_dir_option, ingest_and_wait, load_settings
from musicconnect.platform import Platform
from musicconnect.usecases.accounts import Register
from musicconnect.usecases.backstage import NewPost
from musicconnect.usecases.tracks import IngestTrack

console = Console()
PASSWORD = "demo-password-1"  # noqa: S105 - demo accounts on a throwaway data folder


@contextmanager
def _data_dir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="musicconnect-demo-") as scratch:
        yield Path(scratch)


@click.command()
@data_dir_option
@click.option(
    "--audio",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An audio file to ingest (default: 30 s of generated music).",
)
@click.option("--seconds", default=30.0, show_default=True, help="Length of the generated audio.")
def demo(data_dir: Path | None, audio: Path | None, seconds: float) -> None:
    """An artist, three tiers, a track in the HLS ladder, three fans, a billing month and a payout."""
    with _data_dir(data_dir) as folder:
        clock = FrozenClock()
        relay = _ProgressRelay()
        with Platform.of(
            bootstrap(load_settings(folder), clock=clock, on_transcode_progress=relay)
        ) as platform:
            _walk(_Tour(platform, clock, folder, relay), audio, seconds)
    console.print("\n[bold green]Demo finished.[/] Every step above ran on the embedded defaults.")


@attrs.define
class _Tour:
    """What the demo has built so far, handed from step to step."""

    platform: Platform
    clock: FrozenClock
    folder: Path
    progress: _ProgressRelay
    artist: Caller | None = None
    artist_name: str = ""
    track_id: str = ""
    fans: dict[Tier, Caller] = attrs.field(factory=dict)


class _ProgressRelay:
    """Forwards transcode progress to whichever progress bar is on screen."""

    def __init__(self) -> None:
        self.target: Callable[[float], None] | None = None

    def __call__(self, _track_id: str, fraction: float) -> None:
        if self.target is not None:
            self.target(fraction)


def _walk(tour: _Tour, audio: Path | None, seconds: float) -> None:
    _artist_and_tiers(tour)
    _track(tour, audio, seconds)
    _fans(tour)
    _listening(tour)
    _billing_month(tour)
    _payout_run(tour)
    _dashboard(tour)


def _follow_verification_link(tour: _Tour, email: str) -> None:
    """Do what the artist does with the email in the outbox: an unverified artist is not paid."""
    outbox = tour.platform.settings.data_dir / "outbox"
    for _, message in reversed(read_outbox(outbox)):
        found = re.search(r"verify-email\?token=(\S+)", message.body)
        if message.to == email and found:
            tour.platform.profiles.confirm_email(found.group(1))
            console.print(f"{email} followed the verification link in {outbox}")
            return


def _artist_and_tiers(tour: _Tour) -> None:
    console.rule("[bold]1. An artist and three tiers")
    platform = tour.platform
    account = platform.accounts.register(Register("nova@example.com", PASSWORD, "artist", "Nova Lights"))
    _follow_verification_link(tour, account.email)
    artist = tour.artist = Caller(account.id, account.role)
    platform.artists.set_tier(
        artist.id,
        Tier.SUPERFAN,
        price=Money(1000, "USD"),
        features=["direct messages (5 a month)", "virtual backstage", "live sessions"],
        caller=artist,
    )
    profile = platform.artists.view(artist.id)
    tour.artist_name = profile.display_name
    table = Table("tier", "price", "features")
    for plan in profile.plans:
        table.add_row(
            plan.tier.value, plan.price.format(), ", ".join(f.replace("_", " ") for f in plan.features)
        )
    console.print(table)


def _track(tour: _Tour, audio: Path | None, seconds: float) -> None:
    console.rule("[bold]2. A track into the HLS ladder")
    artist = _artist(tour)
    source = audio or tour.folder / "demo-track.wav"
    if audio is None:
        generate_demo_audio(source, seconds)
    with Progress(
        TextColumn("[bold]transcoding"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("transcoding", total=1.0)
        tour.progress.target = lambda fraction: bar.update(task, completed=fraction)
        track = ingest_and_wait(
            tour.platform, IngestTrack(artist_id=artist.id, title="First Light", upload=source), caller=artist
        )
        tour.progress.target = None
    if track.status is not TrackStatus.READY:
        raise click.ClickException(f"transcode failed: {track.failure_reason}")
    tour.track_id = track.id
    console.print(f"'{track.title}' is ready: {track.duration_s:.1f} s, rungs {list(track.rungs_kbps)} kbps")


def _fans(tour: _Tour) -> None:
    console.rule("[bold]3. Three fans on three tiers")
    platform, artist = tour.platform, _artist(tour)
    people = [("ada@example.com", "Ada"), ("ben@example.com", "Ben"), ("cleo@example.com", "Cleo")]
    for tier, (email, name) in zip(Tier, people, strict=True):
        account = platform.accounts.register(Register(email, PASSWORD, "fan", name))
        fan = tour.fans[tier] = Caller(account.id, account.role)
        platform.artists.view(artist.id, visitor_id=fan.id)
        platform.library.follow(artist.id, caller=fan)
        platform.billing.subscribe(artist.id, tier, caller=fan)
    table = Table("fan", "tier", "rungs in their master playlist (kbps)")
    for tier, fan in tour.fans.items():
        master = platform.streaming.master_playlist(tour.track_id, caller=fan)
        table.add_row(_name(platform, fan), tier.value, ", ".join(map(str, listed_rungs(master))))
    console.print(table)


def _listening(tour: _Tour) -> None:
    console.rule("[bold]4. Listening, a DM conversation, a monthly Q&A, the backstage, an upgrade")
    platform, clock, artist = tour.platform, tour.clock, _artist(tour)
    clock.advance(days=10)
    for plays, fan in zip((3, 5, 8), tour.fans.values(), strict=True):
        for _ in range(plays):
            platform.library.play(tour.track_id, caller=fan)
            clock.advance(minutes=4)  # a play counts once per fan and track every 30 s
    _conversation(tour)
    _monthly_qa(tour)
    _backstage(tour)
    upgrade = platform.billing.change_tier(artist.id, Tier.SUPPORTER, caller=tour.fans[Tier.FREE])
    console.print(
        f"Ada upgrades to supporter 10 days into her month: charged {upgrade.charged.format()} (prorated)"
    )


def _conversation(tour: _Tour) -> None:
    """The superfan writes, the artist replies (replies use no quota), both read one thread."""
    platform, artist, superfan = tour.platform, _artist(tour), tour.fans[Tier.SUPERFAN]
    platform.conversations.send(artist.id, "Loved the new track! Is there a vinyl coming?", caller=superfan)
    tour.clock.advance(hours=2)
    platform.conversations.artist_thread(artist.id, superfan.id, caller=artist)  # the artist opens it
    platform.conversations.reply(artist.id, superfan.id, "Thank you! Yes, in the autumn.", caller=artist)
    table = Table(
        f"direct messages: {_name(platform, superfan)} and {tour.artist_name} (newest first)",
        "read by the other side",
    )
    for message in platform.conversations.fan_thread(artist.id, caller=superfan):
        author = tour.artist_name if message.from_artist else _name(platform, superfan)
        table.add_row(f"{author}: {message.body}", "yes" if message.is_read else "no")
    console.print(table)


def _monthly_qa(tour: _Tour) -> None:
    """The artist opens this month's Q&A; a supporter asks, a superfan upvotes, the artist answers."""
    platform, artist = tour.platform, _artist(tour)
    supporter, superfan = tour.fans[Tier.SUPPORTER], tour.fans[Tier.SUPERFAN]
    qa = platform.qa.open(artist.id, "Monthly Q&A", "Ask me about the new track.", caller=artist)
    gear = platform.qa.ask(qa.id, "Which synth is that on the chorus?", caller=supporter)
    platform.qa.ask(qa.id, "Any live dates soon?", caller=superfan)
    platform.qa.upvote(qa.id, gear.id, caller=superfan)
    platform.qa.answer(qa.id, gear.id, "An old Juno-60, through a tape echo.", caller=artist)
    page = platform.qa.page(qa.id, caller=supporter)
    table = Table(f"{page.session.title} {page.session.month}: question", "votes", "answer")
    for question in page.questions:
        table.add_row(question.body, str(question.votes), question.answer or "")
    console.print(table)


def _billing_month(tour: _Tour) -> None:
    console.rule("[bold]5. A billing month")
    tour.clock.advance(days=21)
    report = tour.platform.billing.run_billing()
    console.print(f"renewed {report.renewed}, past due {report.past_due}, canceled {report.canceled}")


def _payout_run(tour: _Tour) -> None:
    console.rule("[bold]6. The payout run, split 90/10")
    period = month_key(tour.clock.now())

    def run() -> list[Payout]:
        return tour.platform.payouts.run(period, caller=OPERATOR)

    paid = run()
    table = Table("artist", "period", "fans paid", "platform 10 %", "artist 90 %")
    for payout in paid:
        if split_revenue(payout.gross).artist != payout.amount:
            raise click.ClickException("the payout does not match the 90/10 split")
        table.add_row(
            tour.artist_name,
            payout.period,
            payout.gross.format(),
            payout.platform_fee.format(),
            payout.amount.format(),
        )
    console.print(table)
    console.print(f"running the {period} payout again pays {len(run())} more payouts")


def _dashboard(tour: _Tour) -> None:
    console.rule("[bold]7. The artist's dashboard")
    artist = _artist(tour)
    board = tour.platform.dashboard.of_artist(artist.id, caller=artist)
    active = ", ".join(f"{day}: {n}" for day, n in board.plays_30d.items() if n)
    console.print(f"plays in the last 30 days: {sum(board.plays_30d.values())} ({active})")
    for revenue in board.revenue_by_currency:
        gross, net = Money(revenue.gross_minor, revenue.currency), Money(revenue.net_minor, revenue.currency)
        console.print(
            f"revenue in the last 30 days: fans paid {gross.format()}, the artist's share {net.format()}"
        )
    table = Table("top fans by plays", "plays")
    for score in board.top_fans_by_plays:
        table.add_row(score.display_name, str(score.value))
    console.print(table)
    table = Table("funnel step", "count", "rate")
    for step in board.funnel:
        table.add_row(step.name, str(step.count), "" if step.rate is None else f"{step.rate:.0%}")
    console.print(table)


def _backstage(tour: _Tour) -> None:
    """The artist posts a studio photo backstage; the superfan reads it and comments; the
    supporter is turned away (the backstage is a superfan perk)."""
    platform, artist = tour.platform, _artist(tour)
    supporter, superfan = tour.fans[Tier.SUPPORTER], tour.fans[Tier.SUPERFAN]
    posted = platform.backstage.post(
        NewPost(
            artist.id,
            "Backstage: tonight's mixing session, and the desk it happens on.",
            images=[demo_picture()],
        ),
        caller=artist,
    )
    platform.backstage.comment(posted.id, "That lamp! Can't wait to hear the mix.", caller=superfan)
    view = platform.backstage.feed(artist.id, caller=superfan).posts[0]
    image = view.post.images[0]
    table = Table(f"{tour.artist_name}'s backstage (superfans only)", "image", "comments")
    comments = platform.backstage.comments(posted.id, caller=superfan)
    table.add_row(
        view.post.body,
        f"{image.width}x{image.height} {image.content_type}, signed URL {view.image_urls[0].split('?')[0]}",
        "\n".join(f"{_name(platform, superfan)}: {c.body}" for c in comments),
    )
    console.print(table)
    try:
        platform.backstage.feed(artist.id, caller=supporter)
    except Forbidden as refused:
        console.print(f"{_name(platform, supporter)} (supporter) is turned away: {refused.detail}")


def _artist(tour: _Tour) -> Caller:
    if tour.artist is None:
        raise RuntimeError("the artist step runs first")
    return tour.artist


def _name(platform: Platform, caller: Caller) -> str:
    return platform.profiles.mine(caller).display_name
