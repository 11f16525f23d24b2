"""Stream authorisation: requests/s of a fan's master playlist over a trivial JSON endpoint.

Both are served by the same `musicconnect serve` process with the same settings and driven by
the same `wrk` run parameters, so the ratio is comparable between runs even though absolute
numbers are not. Measured on the embedded defaults and on MongoDB + Redis (+ S3), with one API
process and with two. Target: at least 0.5 everywhere.

    python bench/bench_stream.py [--backend embedded|production|all] [--workers N ...]
                                 [--seconds S] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.backends import BACKENDS, backend_env
from tests.support.servers import musicconnect_server

from bench._wrk import wrk_binary, wrk_requests_per_second
from musicconnect.adapters.ffmpeg import generate_demo_audio

PASSWORD = "bench-password-1"
TARGET = 0.5


def _token(http: httpx.Client, email: str, role: str) -> tuple[str, str]:
    created = http.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": email}
    )
    created.raise_for_status()
    login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    return created.json()["id"], login.json()["access_token"]


def _ready_track(http: httpx.Client, root: Path) -> tuple[str, dict[str, str]]:
    """A published track and a supporter's headers for it."""
    artist_id, artist_token = _token(http, "artist@example.com", "artist")
    _, fan_token = _token(http, "fan@example.com", "fan")
    audio = root / "short.wav"
    generate_demo_audio(audio, 8.0)
    with audio.open("rb") as body:
        upload = http.post(
            f"/artists/{artist_id}/tracks",
            headers={"authorization": f"Bearer {artist_token}"},
            files={"file": ("short.wav", body, "audio/wav")},
            data={"title": "bench"},
        )
    upload.raise_for_status()
    track_id = upload.json()["track_id"]
    deadline = time.monotonic() + 120
    while http.get(f"/tracks/{track_id}").json()["status"] == "processing":
        if time.monotonic() > deadline:
            raise RuntimeError("the bench track was not published within 120 s")
        time.sleep(0.2)
    fan = {"authorization": f"Bearer {fan_token}"}
    http.post(
        f"/artists/{artist_id}/subscription", headers=fan, json={"tier": "supporter"}
    ).raise_for_status()
    return track_id, fan


def measure(backend: str, workers: int, seconds: float, rounds: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        env = {"MUSICCONNECT_SECRET_KEY": "bench-secret-key-long-enough-for-hs256"}
        with (
            backend_env(backend, root) as backend_vars,
            musicconnect_server(root / "data", env={**env, **backend_vars}, workers=workers) as base,
            httpx.Client(base_url=base, timeout=60) as http,
        ):
            track_id, fan = _ready_track(http, root)
            stream_url = f"{base}/tracks/{track_id}/stream"
            http.get(stream_url, headers=fan).raise_for_status()
            # Warm both paths (imports, connection pools, caches) before measuring either.
            wrk_requests_per_second(f"{base}/health", seconds=1)
            wrk_requests_per_second(stream_url, headers=fan, seconds=1)
            # Rounds taken in turn, and the median of each: the machine is shared, and load that
            # comes and goes would otherwise favour whichever endpoint ran in the quiet moment.
            baselines, streams = [], []
            for _ in range(rounds):
                baselines.append(wrk_requests_per_second(f"{base}/health", seconds=seconds))
                streams.append(wrk_requests_per_second(stream_url, headers=fan, seconds=seconds))
    baseline, stream = statistics.median(baselines), statistics.median(streams)
    ratio = stream / baseline
    print(
        f"{backend:>10}, {workers} worker(s): GET /health {baseline:7.0f} req/s, "
        f"GET /tracks/id/stream {stream:7.0f} req/s, ratio {ratio:.2f} (target >= {TARGET})",
        flush=True,
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=[*BACKENDS, "all"], default="all")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=3.0, help="per endpoint and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    wrk_binary()
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    print("stream authorisation, driven by wrk (16 connections, 2 threads):")
    ratios = [measure(b, w, args.seconds, args.rounds) for b in backends for w in args.workers]
    print(f"lowest ratio stream/baseline: {min(ratios):.2f}  (target >= {TARGET})")


if __name__ == "__main__":
    main()
