"""A fan subscribes to an artist and streams a track, on in-memory fakes (no disk, no network).

Run it: ``python examples/fan_journey.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from musicconnect import IngestTrack, Register, Tier
from musicconnect.testing import in_memory, write_wav

PASSWORD = "correct horse battery"


def main() -> None:
    with in_memory() as platform, tempfile.TemporaryDirectory() as folder:
        # An artist signs up and uploads a track; in memory, it is transcoded at once.
        platform.accounts.register(Register("nova@example.com", PASSWORD, "artist", "Nova"))
        artist = platform.accounts.sign_in("nova@example.com", PASSWORD)
        song = write_wav(Path(folder) / "first-light.wav", seconds=12)
        track = platform.tracks.ingest(IngestTrack(artist.id, "First Light", song), caller=artist)

        # A fan signs up, follows the artist and subscribes to the supporter tier ($5 a month).
        platform.accounts.register(Register("ada@example.com", PASSWORD, "fan", "Ada"))
        fan = platform.accounts.sign_in("ada@example.com", PASSWORD)
        platform.engagement.follow(artist.id, caller=fan)
        result = platform.billing.subscribe(artist.id, Tier.SUPPORTER, caller=fan)
        print(f"Ada is a {result.subscription.tier.value}, charged {result.charged.format()}")

        # Her master playlist lists the rungs a supporter may hear (128 and 256 kbps), signed.
        playlist = platform.streaming.master_playlist(track.id, caller=fan)
        rungs = [line.split("/hls/")[1].split("/")[0] for line in playlist.splitlines() if "/hls/" in line]
        print(f"Ada's player may choose {rungs}")
        platform.engagement.play(track.id, caller=fan)


if __name__ == "__main__":
    main()
