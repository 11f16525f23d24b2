"""Stream authorisation: requests/s of a fan's master playlist over a trivial JSON endpoint.

Both are served by the same `musicconnect serve` process with the same settings, loaded by the
same client, so the ratio is comparable between runs even though absolute numbers are not.
Target: at least 0.5.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import musicconnect_server

from bench._load import requests_per_second
from musicconnect.adapters.ffmpeg import generate_demo_audio

PASSWORD = "bench-password-1"


def _token(http: httpx.Client, email: str, role: str) -> tuple[str, str]:
    created = http.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "role": role, "display_name": email}
    )
    created.raise_for_status()
    login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    return created.json()["id"], login.json()["access_token"]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        env = {"MUSICCONNECT_SECRET_KEY": "bench-secret-key-long-enough-for-hs256"}
        with (
            musicconnect_server(root / "data", env=env) as base,
            httpx.Client(base_url=base, timeout=60) as http,
        ):
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
            while http.get(f"/tracks/{track_id}").json()["status"] == "processing":
                time.sleep(0.2)
            fan = {"authorization": f"Bearer {fan_token}"}
            http.post(
                f"/artists/{artist_id}/subscription", headers=fan, json={"tier": "supporter"}
            ).raise_for_status()

            baseline = requests_per_second(f"{base}/health")
            stream = requests_per_second(f"{base}/tracks/{track_id}/stream", headers=fan)
    print(f"trivial JSON endpoint (GET /health):      {baseline:8.0f} req/s  (baseline)")
    print(f"fan master playlist (GET /tracks/id/stream): {stream:8.0f} req/s")
    print(f"ratio stream/baseline: {stream / baseline:.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()
