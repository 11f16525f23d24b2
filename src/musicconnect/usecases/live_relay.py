"""The live relay: runs the live transcoder on a push and publishes what it writes into media storage.

The RTMP server starts one relay per accepted push (``exec_push``) and stops it when the push ends.
What the transcoder writes is published in the order readers need: each new segment (and init
file) before the variant playlist that lists it, so a listener never fetches a playlist naming a
segment that is not stored yet; recorded parts as each one is complete. On a local folder and on
S3 alike: segments are uploaded as they are written, playlists last.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import attrs

from musicconnect.domain.hls import referenced_uris
from musicconnect.domain.live import LiveSession
from musicconnect.domain.media import VARIANT_PLAYLIST, content_type_for, rung_folder
from musicconnect.ports.media import LiveTranscoder, MediaStorage
from musicconnect.usecases.live import LIVE_LADDER_KBPS, RECORDING_SUFFIX, LiveSessions

log = logging.getLogger(__name__)

#: The list of finished recording parts the transcoder keeps (CSV: name, start, end).
RECORDING_LIST: Final = "recording.csv"
#: How often the output folder is looked at: a fraction of a segment, so publishing adds little latency.
POLL_S: Final = 0.2
#: How often, at most, the session hears that media is flowing.
HEARTBEAT_S: Final = 2.0
#: How long a stopping transcoder may take to finish its files.
STOP_TIMEOUT_S: Final = 10.0


@attrs.define
class LiveOutput:
    """Publishes a live transcoder's folder into storage, remembering what it already sent."""

    out_dir: Path
    session: LiveSession
    storage: MediaStorage
    ladder_kbps: Sequence[int] = LIVE_LADDER_KBPS
    _sent: set[str] = attrs.field(factory=set)
    _playlists: dict[int, str] = attrs.field(factory=dict)

    def publish_new(self) -> int:
        """Publish what is new; return how many media files that was."""
        sent = sum(self._publish_rung(kbps) for kbps in self.ladder_kbps)
        return sent + self._publish_recording()

    def _publish_rung(self, kbps: int) -> int:
        folder = self.out_dir / rung_folder(kbps)
        try:
            playlist = (folder / VARIANT_PLAYLIST).read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return 0  # not written yet (ffmpeg renames a finished playlist into place)
        if playlist == self._playlists.get(kbps):
            return 0
        prefix = f"{self.session.hls_prefix}/{rung_folder(kbps)}"
        sent = 0
        for uri in referenced_uris(playlist):
            if "/" in uri or uri in self._sent_in(kbps):
                continue
            if self._put(f"{prefix}/{uri}", folder / uri):
                self._sent.add(f"{kbps}/{uri}")
                sent += 1
        self.storage.put_bytes(
            f"{prefix}/{VARIANT_PLAYLIST}", playlist.encode("utf-8"), content_type_for(VARIANT_PLAYLIST)
        )
        self._playlists[kbps] = playlist
        return sent

    def _sent_in(self, kbps: int) -> set[str]:
        marker = f"{kbps}/"
        return {name.removeprefix(marker) for name in self._sent if name.startswith(marker)}

    def _publish_recording(self) -> int:
        try:
            lines = (self.out_dir / RECORDING_LIST).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return 0
        sent = 0
        for line in lines:
            name = line.split(",", 1)[0].strip()
            marker = f"rec/{name}"
            if not name.endswith(RECORDING_SUFFIX) or "/" in name or marker in self._sent:
                continue
            if self._put(f"{self.session.recording_prefix}/{name}", self.out_dir / name):
                self._sent.add(marker)
                sent += 1
        return sent

    def _put(self, key: str, path: Path) -> bool:
        try:
            self.storage.put_file(key, path, content_type_for(path.name))
        except FileNotFoundError:
            return False  # already slid out of the window and deleted by the transcoder
        return True


def relay(
    key: str,
    source_url: str,
    work_root: Path,
    *,
    live: LiveSessions,
    transcoder: LiveTranscoder,
    stop: threading.Event,
) -> int:
    """Transcode the push at ``source_url`` for the session ``key`` opens, publishing as it goes,
    until the transcoder exits, ``stop`` is set or the session is over; return the exit code.

    A transcoder that dies while the push goes on is started again by the RTMP server
    (``exec_push`` respawns it); a session whose media stops for good is failed by ``settled``.
    """
    session = live.relaying(key)
    run = f"{time.time_ns() // 1_000_000:015d}"
    out_dir = work_root / session.id / run
    out_dir.mkdir(parents=True, exist_ok=True)
    output = LiveOutput(out_dir, session, live.storage)
    encoding = transcoder.start(source_url, out_dir, LIVE_LADDER_KBPS, run=run)
    last_beat = 0.0
    code: int | None = None
    try:
        while code is None:
            code = encoding.exit_code()
            if code is None and stop.is_set():
                code = encoding.stop(STOP_TIMEOUT_S)
            if output.publish_new() and time.monotonic() - last_beat >= HEARTBEAT_S:
                last_beat = time.monotonic()
                if live.media_published(session.id).is_over:
                    log.info("live session %s is over; its relay stops", session.id)
                    stop.set()
            if code is None:
                stop.wait(POLL_S)
        output.publish_new()  # whatever the transcoder finished while stopping
    finally:
        if encoding.exit_code() is None:
            encoding.stop(STOP_TIMEOUT_S)
        shutil.rmtree(out_dir, ignore_errors=True)
    log.info("live session %s: relay run %s ended with %s", session.id, run, code)
    return code
