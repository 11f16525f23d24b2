"""Live latency: seconds from a marker sound pushed by the artist to the newest live segment a
listener can fetch that carries it.

ffmpeg pushes quiet programme material in real time with a loud 1 kHz beep every 10 s to
`musicconnect live` (nginx + RTMP module, on a free loopback port); a superfan polls the signed
128k live playlist, decodes each new segment and notes when each beep first appears. The baseline
is the segment duration (2 s): the ratio says how many segments behind the push a listener is.
Target: under 8 s.

    python bench/bench_live.py [--seconds S]
"""

from __future__ import annotations

import argparse
import array
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.live import live_ingest, push_command, rtmp_port
from tests.support.servers import musicconnect_server

PASSWORD = "bench-password-1"
TARGET_S = 8.0
SEGMENT_S = 2.0
MARKER_EVERY_S = 10
FIRST_MARKER_S = 15
#: Quiet pink noise and a loud beep (sine's amplitude is 1/8, hence x7) of 0.3 s at 15 s, 25 s, ...:
#: none in the first seconds, which the live ladder starts after and a listener finds already there.
PROGRAMME = (
    "anoisesrc=color=pink:amplitude=0.02:sample_rate=44100[n];"
    "sine=f=1000:sample_rate=44100,"
    f"volume='if(gte(t,{FIRST_MARKER_S})*between(mod(t,{MARKER_EVERY_S}),5,5.3),7,0)':eval=frame[b];"
    "[n][b]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo[out0]"
)


def _user(http: httpx.Client, email: str, role: str) -> tuple[str, dict[str, str]]:
    created = http.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": email}
    )
    created.raise_for_status()
    login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    return created.json()["id"], {"authorization": f"Bearer {login.json()['access_token']}"}


def _peak(ffmpeg: str, media: bytes) -> float:
    """The loudest 10 ms (RMS, 0..1) of an fMP4 init + segment."""
    decoded = subprocess.run(
        [ffmpeg, "-v", "error", "-i", "pipe:0", "-ac", "1", "-ar", "8000", "-f", "s16le", "pipe:1"],
        input=media,
        capture_output=True,
        check=True,
    ).stdout
    samples = array.array("h", decoded[: len(decoded) // 2 * 2])
    window = 80
    loudest = 0.0
    for start in range(0, len(samples) - window, window):
        chunk = samples[start : start + window]
        loudest = max(loudest, math.sqrt(sum(s * s for s in chunk) / window) / 32768)
    return loudest


def _variant(http: httpx.Client, session_id: str, fan: dict[str, str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        master = http.get(f"/live/{session_id}/stream", headers=fan)
        if master.status_code == 200:
            return next(line for line in master.text.splitlines() if "/128k/" in line)
        time.sleep(0.2)
    raise RuntimeError("the live master did not appear within 30 s")


def measure(seconds: float) -> list[float]:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "install ffmpeg"
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        port = rtmp_port()
        env = {
            "MUSICCONNECT_SECRET_KEY": "bench-secret-key-long-enough-for-hs256",
            "MUSICCONNECT_LIVE_INGEST_URL": f"rtmp://127.0.0.1:{port}/live",
            "MUSICCONNECT_LIVE_GRACE_S": "3",
        }
        with (
            musicconnect_server(root / "data", env=env) as base,
            live_ingest(root / "data", base, port, root / "live.log", env),
            httpx.Client(base_url=base, timeout=30) as http,
        ):
            artist_id, artist = _user(http, "artist@example.com", "artist")
            _, fan = _user(http, "fan@example.com", "fan")
            http.post(
                f"/artists/{artist_id}/subscription", headers=fan, json={"tier": "superfan"}
            ).raise_for_status()
            made = http.post(
                f"/artists/{artist_id}/live",
                headers=artist,
                json={"title": "bench", "starts_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
            )
            made.raise_for_status()
            issued = made.json()
            pushed_at = time.monotonic()
            pusher = subprocess.Popen(
                push_command(f"{issued['ingest_url']}/{issued['stream_key']}", seconds, programme=PROGRAMME),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                return _listen(http, ffmpeg, issued["session"]["id"], fan, pushed_at, pusher)
            finally:
                pusher.kill()


def _listen(  # noqa: PLR0917 - one caller, every argument a different thing
    http: httpx.Client,
    ffmpeg: str,
    session_id: str,
    fan: dict[str, str],
    pushed_at: float,
    pusher: subprocess.Popen[bytes],
) -> list[float]:
    variant = _variant(http, session_id, fan)
    seen: set[str] = set()
    latencies: list[float] = []
    was_loud = False
    init: bytes | None = None
    while pusher.poll() is None:
        playlist = http.get(variant).text
        lines = playlist.splitlines()
        if init is None:
            map_line = next(line for line in lines if line.startswith("#EXT-X-MAP:"))
            init = http.get(map_line.split('URI="', 1)[1].split('"', 1)[0]).content
        for uri in [line for line in lines if line and not line.startswith("#")]:
            name = uri.split("?", 1)[0]
            if name in seen:
                continue
            seen.add(name)
            loud = _peak(ffmpeg, init + http.get(uri).content) > 0.3
            if loud and not was_loud:
                # The k-th beep (from 0) left the artist this long after the push began.
                sent_s = FIRST_MARKER_S + len(latencies) * MARKER_EVERY_S
                latencies.append(time.monotonic() - pushed_at - sent_s)
            was_loud = loud
        time.sleep(0.1)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=50.0, help="How long the artist pushes.")
    args = parser.parse_args()
    latencies = measure(args.seconds)
    if not latencies:
        raise SystemExit("no marker reached a listener")
    median = statistics.median(latencies)
    print(
        f"live latency, marker pushed -> newest fetchable segment ({len(latencies)} markers): "
        f"median {median:.2f} s, max {max(latencies):.2f} s "
        f"(= {median / SEGMENT_S:.1f}x the {SEGMENT_S:g} s segment; target < {TARGET_S:g} s) "
        f"[{', '.join(f'{x:.2f}' for x in latencies)}]"
    )
    if max(latencies) >= TARGET_S:
        raise SystemExit(f"live latency {max(latencies):.2f} s is over the {TARGET_S:g} s target")


if __name__ == "__main__":
    main()
