"""Building and rewriting HLS playlists as text: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

AAC_LC_CODEC = "mp4a.40.2"


@attrs.frozen
class Variant:
    kbps: int
    uri: str


def master_playlist(variants: Sequence[Variant]) -> str:
    """A master playlist listing exactly ``variants``, lowest bitrate first."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in sorted(variants, key=lambda v: v.kbps):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={variant.kbps * 1000},"
            f'AVERAGE-BANDWIDTH={variant.kbps * 1000},CODECS="{AAC_LC_CODEC}"',
        )
        lines.append(variant.uri)
    return "\n".join(lines) + "\n"


def listed_bandwidths(playlist: str) -> list[int]:
    """The BANDWIDTH of every variant a master playlist lists, in kbps."""
    found = []
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            attributes = dict(part.split("=", 1) for part in line.split(":", 1)[1].split(",") if "=" in part)
            found.append(int(attributes["BANDWIDTH"]) // 1000)
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
