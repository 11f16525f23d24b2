"""Ingest: upload-to-ready wall time of our pipeline over the bare one-pass ffmpeg ladder.

Our side is everything a real upload goes through on the embedded defaults: probe and decode
check, storing the original, the loudness analysis with waveform peaks, the one-pass encode of
all three rungs, measuring them, and publishing to media storage with the SQLite row turned
ready. The baseline is the single ffmpeg command that encodes the same three-rung fMP4 ladder
from the same 4-minute input with nothing else. Target: at most 1.3.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from musicconnect import IngestTrack, Platform, Register, Settings
from musicconnect.adapters.ffmpeg import find_ffmpeg, generate_demo_audio
from musicconnect.domain.accounts import Caller, Role
from musicconnect.domain.tracks import TrackStatus
from musicconnect.entrypoints.cli.common import ingest_and_wait

SECONDS = 240.0
ROUNDS = 2


def bare_ladder(ffmpeg: str, source: Path, out: Path) -> float:
    """The bare command: one decode, three AAC encoders, fMP4 HLS, nothing else."""
    out.mkdir(parents=True)
    command = [
        ffmpeg,
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-i",
        str(source),
        "-filter_complex",
        "[0:a]asplit=3[a0][a1][a2]",
        "-map",
        "[a0]",
        "-map",
        "[a1]",
        "-map",
        "[a2]",
        "-c:a",
        "aac",
        "-b:a:0",
        "128k",
        "-b:a:1",
        "256k",
        "-b:a:2",
        "320k",
        # The coder our ladder uses from 256k up, so both sides encode the same thing.
        "-aac_coder:a:1",
        "fast",
        "-cutoff:a:1",
        "20000",
        "-aac_coder:a:2",
        "fast",
        "-cutoff:a:2",
        "20000",
        "-f",
        "hls",
        "-hls_time",
        "6",
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-var_stream_map",
        "a:0 a:1 a:2",
        "-master_pl_name",
        "master.m3u8",
        str(out / "%v" / "index.m3u8"),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, timeout=1800)
    return time.perf_counter() - start


def our_pipeline(source: Path, data_dir: Path) -> float:
    settings = Settings(data_dir=data_dir, secret_key="bench-secret-key-long-enough-for-hs256")
    with Platform.from_settings(settings) as platform:
        account = platform.accounts.register(
            Register("artist@example.com", "bench-password", "artist", "Bench")
        )
        artist = Caller(account.id, Role.ARTIST)
        start = time.perf_counter()
        ready = ingest_and_wait(
            platform, IngestTrack(artist_id=artist.id, title="bench", upload=source), caller=artist
        )
        elapsed = time.perf_counter() - start
        if ready.status is not TrackStatus.READY:
            raise RuntimeError(f"pipeline failed: {ready.failure_reason}")
        return elapsed


def main() -> None:
    ffmpeg = find_ffmpeg()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        source = root / "four-minutes.wav"
        generate_demo_audio(source, SECONDS)
        bare, ours = [], []
        for n in range(ROUNDS):  # alternate, so drift in machine load hits both sides alike
            bare.append(bare_ladder(ffmpeg, source, root / f"bare-{n}"))
            ours.append(our_pipeline(source, root / f"data-{n}"))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"bare one-pass ladder ({SECONDS:.0f} s input): {b:6.2f} s  (baseline, median of {ROUNDS})")
    print(f"our upload-to-ready pipeline:          {o:6.2f} s")
    print(f"ratio pipeline/bare: {o / b:.2f}  (target <= 1.3)")


if __name__ == "__main__":
    main()
