"""The live transcoder (one ffmpeg: an RTMP push in, a live fMP4 HLS ladder and recorded parts out)
and the packer that joins a session's recorded parts into one file for the ingest pipeline."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs
import ffmpeg

from musicconnect.adapters.ffmpeg._process import check_tool, compile_command, run_tool
from musicconnect.adapters.ffmpeg.binaries import find_ffmpeg
from musicconnect.adapters.ffmpeg.transcoder import ladder_encoders
from musicconnect.domain.media import VARIANT_PLAYLIST, rung_folder

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Where the transcoder keeps its diagnostics, inside its output folder.
LOG_FILE: Final = "ffmpeg.log"
RECORDING_LIST: Final = "recording.csv"
#: A push that sends nothing for this long is over (microseconds, as ffmpeg counts).
_READ_TIMEOUT_US: Final = 5_000_000
#: Recorded parts are this long: the most a crash of the whole ingest machine can lose.
_RECORDING_PART_S: Final = 10
#: Segments a live playlist lists (a sliding window of about 12 s).
_WINDOW_SEGMENTS: Final = 6
#: ffmpeg's confinement for a live input: the RTMP server on loopback, nothing else.
_LIVE_PROTOCOLS: Final = "rtmp,tcp"


@attrs.frozen
class FfmpegLiveEncoding:
    process: subprocess.Popen[bytes]

    def exit_code(self) -> int | None:
        return self.process.poll()

    def stop(self, timeout_s: float) -> int:
        if self.process.poll() is None:
            # SIGINT: ffmpeg finishes the segment, the playlists and the recorded part it is on.
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@attrs.frozen
class FfmpegLiveTranscoder:
    """Encodes every rung at once with the tracks' encoder settings, 2 s fMP4 segments in a sliding
    window, and copies the pushed AAC into recorded parts (ADTS, so parts join end to end)."""

    ffmpeg: str = attrs.field(factory=find_ffmpeg)
    segment_s: int = 2

    def command(self, source_url: str, ladder_kbps: Sequence[int], *, run: str) -> list[str]:
        push = ffmpeg.input(
            source_url,
            protocol_whitelist=_LIVE_PROTOCOLS,
            rw_timeout=_READ_TIMEOUT_US,
            # Start at once: an RTMP push says what it carries in its first packets.
            analyzeduration=500_000,
            probesize=32_768,
            fflags="nobuffer",
        )
        split = (
            push.audio.filter("aresample", **{"async": 1})
            .filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
            .filter_multi_output("asplit", len(ladder_kbps))
        )
        ladder = ffmpeg.output(
            *(split[i] for i in range(len(ladder_kbps))),
            f"%v/{VARIANT_PLAYLIST}",
            map_metadata=-1,
            f="hls",
            hls_time=self.segment_s,
            hls_list_size=_WINDOW_SEGMENTS,
            hls_flags="delete_segments+independent_segments+temp_file",
            hls_segment_type="fmp4",
            # Named for the run: a transcoder started again never overwrites what players hold.
            hls_fmp4_init_filename=f"init_{run}_%v.mp4",
            hls_segment_filename=f"%v/seg_{run}_%05d.m4s",
            var_stream_map=" ".join(f"a:{i},name:{rung_folder(k)}" for i, k in enumerate(ladder_kbps)),
            **ladder_encoders(ladder_kbps),
        )
        recording = ffmpeg.output(
            push.audio,
            f"rec-{run}-%05d.aac",
            acodec="copy",
            f="segment",
            segment_time=_RECORDING_PART_S,
            segment_format="adts",
            segment_list=RECORDING_LIST,
            segment_list_type="csv",
        )
        return compile_command(
            self.ffmpeg,
            ffmpeg.merge_outputs(ladder, recording),
            *("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"),
        )

    def start(
        self, source_url: str, out_dir: Path, ladder_kbps: Sequence[int], *, run: str
    ) -> FfmpegLiveEncoding:
        for kbps in ladder_kbps:
            (out_dir / rung_folder(kbps)).mkdir(parents=True, exist_ok=True)
        with (out_dir / LOG_FILE).open("ab") as log:
            process = subprocess.Popen(
                self.command(source_url, ladder_kbps, run=run),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                # Relative names inside out_dir: its own path is never read as a pattern.
                cwd=out_dir,
            )
        return FfmpegLiveEncoding(process)


@attrs.frozen
class FfmpegRecordingPacker:
    """Joins ADTS parts end to end and rewraps them, unchanged, as M4A (an allowed upload format)."""

    ffmpeg: str = attrs.field(factory=find_ffmpeg)
    timeout_s: float = 600.0

    def pack(self, parts: Sequence[Path], target: Path) -> None:
        joined = target.with_name(f"{target.stem}.joined.aac")
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
        try:
            result = run_tool(
                [
                    self.ffmpeg,
                    *("-hide_banner", "-nostdin", "-loglevel", "error", "-y"),
                    *("-protocol_whitelist", "file", "-f", "aac", "-i", f"file:{joined.resolve()}"),
                    *("-c", "copy", "-f", "mp4", f"file:{target.resolve()}"),
                ],
                timeout_s=self.timeout_s,
                what="packing the recording",
            )
            check_tool(result, what="packing the recording")
        finally:
            with contextlib.suppress(FileNotFoundError):
                joined.unlink()
