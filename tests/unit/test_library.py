"""Music Connect as a library: the public surface, the in-memory platform, the examples and the
README's code, run as a developer would run them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import pytest

import musicconnect
from musicconnect import IngestTrack, Register, Tier
from musicconnect.adapters.memory import InMemoryEventPublisher
from musicconnect.domain.events import LiveSessionStarted
from musicconnect.testing import in_memory, write_wav

ROOT: Final = Path(__file__).resolve().parents[2]
EXAMPLES: Final = sorted((ROOT / "examples").glob("*.py"))
PASSWORD: Final = "correct horse battery"
_WRITE_FLAGS: Final = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class _DiskAndNetworkWatch:
    """Records, through the interpreter's audit hooks, every file opened for writing, folder
    made, database opened and socket connected while it is on (in this thread)."""

    def __init__(self) -> None:
        self.on = False
        self.thread = threading.get_ident()
        self.events: list[tuple[str, str]] = []
        sys.addaudithook(self._hook)  # hooks cannot be removed; this one idles when off

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.on or threading.get_ident() != self.thread:
            return
        if event == "open" and _writes(args):
            self.events.append((event, str(args[0])))
        elif event in {"os.mkdir", "tempfile.mkdtemp", "sqlite3.connect", "socket.connect"}:
            self.events.append((event, str(args[0]) if args else ""))

    @contextmanager
    def watching(self) -> Iterator[list[tuple[str, str]]]:
        self.events, self.on = [], True
        try:
            yield self.events
        finally:
            self.on = False


def _writes(args: tuple[Any, ...]) -> bool:
    _, mode, flags = args
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(flags & _WRITE_FLAGS)


_WATCH: Final = _DiskAndNetworkWatch()


def _files_under(folder: Path) -> set[str]:
    return {str(Path(top) / name) for top, dirs, files in os.walk(folder) for name in (*dirs, *files)}


def test_the_package_exports_a_small_typed_surface() -> None:
    """Everything in ``__all__`` is importable from ``musicconnect``, which carries its version."""
    for name in musicconnect.__all__:
        assert hasattr(musicconnect, name), name
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", musicconnect.__version__)
    assert (Path(musicconnect.__file__).parent / "py.typed").exists()


def test_a_fan_journey_in_memory_leaves_no_file_and_opens_no_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """register, follow, subscribe, stream, a DM thread, a Q&A, the notification feed, dashboard on
    ``in_memory()``: no file is left in the
    temporary or working folders, and the only writes are the transcode's own scratch folder
    (the Transcoder port speaks files), gone afterwards. No database file, no socket."""
    song = write_wav(tmp_path / "song.wav")  # the artist's file, there before the platform
    workdir, temp = tmp_path / "workdir", tmp_path / "temp"
    workdir.mkdir()
    temp.mkdir()
    monkeypatch.chdir(workdir)
    # A temporary folder of its own: the system's is shared with whatever else runs meanwhile.
    # (The audit hooks below see writes anywhere, this folder or not.)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    with _WATCH.watching() as events, in_memory() as platform:
        platform.accounts.register(Register("nova@example.com", PASSWORD, "artist", "Nova"))
        artist = platform.accounts.sign_in("nova@example.com", PASSWORD)
        platform.accounts.register(Register("ada@example.com", PASSWORD, "fan", "Ada"))
        fan = platform.accounts.sign_in("ada@example.com", PASSWORD)
        platform.library.follow(artist.id, caller=fan)
        track = platform.tracks.ingest(IngestTrack(artist.id, "First Light", song), caller=artist)
        platform.billing.subscribe(artist.id, Tier.SUPERFAN, caller=fan)
        playlist = platform.streaming.master_playlist(track.id, caller=fan)
        assert platform.library.play(track.id, caller=fan)
        platform.conversations.send(artist.id, "Loved it!", caller=fan)
        platform.conversations.reply(artist.id, fan.id, "Thank you!", caller=artist)
        thread = platform.conversations.fan_thread(artist.id, caller=fan)
        qa = platform.qa.open(artist.id, "Monthly Q&A", None, caller=artist)
        question = platform.qa.ask(qa.id, "Which synth?", caller=fan)
        platform.qa.answer(qa.id, question.id, "A Juno-60.", caller=artist)
        feed = platform.notifications.feed(caller=fan)
        history = platform.library.history(caller=fan)
        board = platform.dashboard.of_artist(artist.id, caller=artist)

    assert playlist.count("#EXT-X-STREAM-INF") == 3
    assert sum(board.plays_30d.values()) == 1
    assert [m.body for m in thread] == ["Thank you!", "Loved it!"]
    assert [h.track.id for h in history] == [track.id]
    # Fanned out at once in memory: the release (to a follower), the DM reply, the Q&A opened and answered.
    assert sorted(n.kind.value for n in feed) == sorted(
        ["release_open", "dm_reply", "qa_opened", "qa_answered"]
    )
    assert list(workdir.iterdir()) == []
    assert _files_under(temp) == set()
    scratch = {path for event, path in events if event == "tempfile.mkdtemp"}
    assert scratch, "the transcode works in a scratch folder: the watch must have seen it"
    assert all(Path(path).parent == temp for path in scratch), scratch
    elsewhere = [(e, p) for e, p in events if e != "tempfile.mkdtemp" and not p.startswith(tuple(scratch))]
    assert elsewhere == []
    assert not any(Path(path).exists() for path in scratch)


def test_a_live_session_in_memory_keeps_its_recording_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``platform.live`` on ``in_memory()``: the ingest server's callbacks, the end, and the
    recording kept as a superfans-only track, through the fake packer, in memory. The only writes
    are scratch folders, gone afterwards; the events are kept in memory."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    with _WATCH.watching() as events, in_memory() as platform:
        platform.accounts.register(Register("nova@example.com", PASSWORD, "artist", "Nova"))
        artist = platform.accounts.sign_in("nova@example.com", PASSWORD)
        starts = platform.live.clock.now() + timedelta(days=1)
        issued = platform.live.schedule(artist.id, title="Sunday set", starts_at=starts, caller=artist)
        platform.live.check_ingest_token(platform.services.ingest_token)
        with pytest.raises(musicconnect.DomainError):
            platform.live.check_ingest_token("a stranger's token")
        platform.live.accept_push(issued.stream_key)
        prefix = issued.session.recording_prefix
        for part in range(2):  # 6 s each as the fake packer's samples (16-bit mono at 8 kHz)
            platform.services.storage.put_bytes(f"{prefix}/part-{part}.aac", bytes(96_000), "audio/aac")
        platform.live.end(issued.session.id, caller=artist)
        session = platform.live.view(issued.session.id)
        assert session.recording_track_id is not None
        track = platform.tracks.view(session.recording_track_id, caller=artist)
        published = platform.services.events
        assert isinstance(published, InMemoryEventPublisher)
        kinds = [type(event).__name__ for event in published.published()]

    assert track.audience is Tier.SUPERFAN
    assert track.duration_s == pytest.approx(12.0)
    assert kinds == ["LiveSessionScheduled", "LiveSessionStarted", "LiveSessionEnded"]
    assert _files_under(temp) == set()
    scratch = {path for event, path in events if event == "tempfile.mkdtemp"}
    elsewhere = [(e, p) for e, p in events if e != "tempfile.mkdtemp" and not p.startswith(tuple(scratch))]
    assert elsewhere == []
    assert not any(Path(path).exists() for path in scratch)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_each_example_runs(example: Path, tmp_path: Path) -> None:
    """``python examples/<name>.py`` exits 0, from any folder, and leaves nothing behind."""
    done = subprocess.run(
        [sys.executable, str(example)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert list(tmp_path.iterdir()) == []


def test_the_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of the README runs as written, in order."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"README.md block {number}", "exec"), {"__name__": "__readme__"})  # noqa: S102


def test_a_live_session_starting_notifies_the_artists_superfans_in_memory() -> None:
    """Platform.of puts notifications on the live sessions' event publisher: the push that takes
    a session live tells its superfans (not a supporter), and the services' publisher still gets
    the event."""
    with in_memory() as platform:
        platform.accounts.register(Register("nova@example.com", PASSWORD, "artist", "Nova"))
        artist = platform.accounts.sign_in("nova@example.com", PASSWORD)
        fans = {}
        for tier in (Tier.SUPPORTER, Tier.SUPERFAN):
            email = f"{tier.value}@example.com"
            platform.accounts.register(Register(email, PASSWORD, "fan", tier.value))
            fans[tier] = platform.accounts.sign_in(email, PASSWORD)
            platform.billing.subscribe(artist.id, tier, caller=fans[tier])
        issued = platform.live.schedule(
            artist.id,
            title="Studio night",
            starts_at=platform.live.clock.now() + timedelta(minutes=5),
            caller=artist,
        )
        platform.live.accept_push(issued.stream_key)

        superfan_feed = platform.notifications.feed(caller=fans[Tier.SUPERFAN])
        supporter_feed = platform.notifications.feed(caller=fans[Tier.SUPPORTER])
        published = platform.services.events

    assert [(n.kind.value, n.subject_id) for n in superfan_feed] == [
        ("live_session_starting", issued.session.id)
    ]
    assert supporter_feed == []
    assert isinstance(published, InMemoryEventPublisher)
    assert any(isinstance(e, LiveSessionStarted) for e in published.published())
