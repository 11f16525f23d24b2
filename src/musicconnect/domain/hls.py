"""Building and rewriting HLS playlists as text: pure functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import attrs

from musicconnect.domain.media import RungRate

AAC_LC_CODEC = "mp4a.40.2"


@attrs.frozen
class Variant:
    """One rung in a master playlist; without a measured ``rate`` the nominal one is declared."""

    kbps: int
    uri: str
    rate: RungRate | None = None

    @property
    def bandwidth(self) -> int:
        """Peak bits per second, rounded up: a player must never find a segment above it."""
        return self.kbps * 1000 if self.rate is None else math.ceil(self.rate.peak_kbps * 1000)

    @property
    def average_bandwidth(self) -> int:
        return self.kbps * 1000 if self.rate is None else math.ceil(self.rate.average_kbps * 1000)


def master_playlist(variants: Sequence[Variant]) -> str:
    """A master playlist listing exactly ``variants``, lowest bitrate first."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in sorted(variants, key=lambda v: v.kbps):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={variant.bandwidth},"
            f'AVERAGE-BANDWIDTH={variant.average_bandwidth},CODECS="{AAC_LC_CODEC}"',
        )
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"


def listed_rungs(playlist: str) -> list[int]:
    """The nominal rung (kbps) of every variant a master playlist lists, read from its URI.

    ``BANDWIDTH`` is the measured peak, so the rung is the one named by the variant's folder.
    """
    found = []
    for uri in referenced_uris(playlist):
        parts = uri.split("?", 1)[0].rsplit("/", 2)
        folder = parts[-2] if len(parts) > 1 else ""
        if folder.endswith("k") and folder[:-1].isdigit():
            found.append(int(folder[:-1]))
    return found


def rewrite_uris(playlist: str, resolve: Callable[[str], str]) -> str:
    """Replace every media URI (segment lines and ``URI="..."`` attributes) via ``resolve``."""
    out = []
    for line in playlist.splitlines():
        if line and not line.startswith("#"):
            out.append(resolve(line.strip()))
        elif 'URI="' in line:
            head, rest = line.split('URI="', 1)
            uri, tail = rest.split('"', 1)
            out.append(f'{head}URI="{resolve(uri)}"{tail}')
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def referenced_uris(playlist: str) -> list[str]:
    """Every URI a playlist refers to, in order."""
    seen: list[str] = []

    def collect(uri: str) -> str:
        seen.append(uri)
        return uri

    rewrite_uris(playlist, collect)
    return seen
