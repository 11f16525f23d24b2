"""HLS playlists as text: the master a fan receives, and rewriting media URIs."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from musicconnect.domain.entitlements import entitlements_for_tier
from musicconnect.domain.hls import (
    AAC_LC_CODEC,
    Variant,
    listed_rungs,
    master_playlist,
    referenced_uris,
    rewrite_uris,
)
from musicconnect.domain.media import RungRate
from musicconnect.domain.tiers import Tier

#: The design's table, restated so a changed constant in the code is caught, not mirrored.
DESIGN_MAX_KBPS = {Tier.FREE: 128, Tier.SUPPORTER: 256, Tier.SUPERFAN: 320}

VARIANT_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:6
#EXT-X-MAP:URI="init_0.mp4"
#EXTINF:6.000,
seg_000.m4s
#EXTINF:6.000,
seg_001.m4s
#EXT-X-ENDLIST
"""


def test_master_playlist_lists_variants_lowest_first_with_their_bandwidth() -> None:
    """Each variant gets a STREAM-INF line in bits per second, then its URI."""
    playlist = master_playlist([Variant(320, "320k/index.m3u8"), Variant(128, "128k/index.m3u8")])

    assert playlist.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-STREAM-INF:BANDWIDTH=128000,AVERAGE-BANDWIDTH=128000,CODECS="{AAC_LC_CODEC}"',
        "128k/index.m3u8",
        f'#EXT-X-STREAM-INF:BANDWIDTH=320000,AVERAGE-BANDWIDTH=320000,CODECS="{AAC_LC_CODEC}"',
        "320k/index.m3u8",
    ]
    assert playlist.endswith("\n")


def test_listed_rungs_reads_back_what_the_master_lists() -> None:
    """kbps in, kbps out, in playlist order, read from the rung folders even when signed."""
    playlist = master_playlist(
        [Variant(256, "/media/x/256k/index.m3u8?sig=1"), Variant(128, "/media/x/128k/index.m3u8?sig=2")]
    )

    assert listed_rungs(playlist) == [128, 256]


def test_a_measured_rung_declares_its_peak_and_average_rounded_up() -> None:
    """BANDWIDTH is the measured peak and AVERAGE-BANDWIDTH the measured average, in bit/s."""
    rate = RungRate(kbps=256, average_kbps=203.25, peak_kbps=268.7001)
    playlist = master_playlist([Variant(256, "256k/index.m3u8", rate)])

    assert playlist.splitlines()[3] == (
        f'#EXT-X-STREAM-INF:BANDWIDTH=268701,AVERAGE-BANDWIDTH=203250,CODECS="{AAC_LC_CODEC}"'
    )
    assert listed_rungs(playlist) == [256]


def test_an_empty_master_lists_nothing() -> None:
    """No allowed rung, no variant."""
    assert listed_rungs(master_playlist([])) == []


def test_rewrite_uris_rewrites_segment_lines_and_uri_attributes() -> None:
    """Segments and the EXT-X-MAP init file are resolved; other tags are left alone."""
    rewritten = rewrite_uris(VARIANT_PLAYLIST, lambda uri: f"https://cdn.example/{uri}?sig=x")

    assert rewritten.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:6",
        '#EXT-X-MAP:URI="https://cdn.example/init_0.mp4?sig=x"',
        "#EXTINF:6.000,",
        "https://cdn.example/seg_000.m4s?sig=x",
        "#EXTINF:6.000,",
        "https://cdn.example/seg_001.m4s?sig=x",
        "#EXT-X-ENDLIST",
    ]


def test_rewrite_uris_keeps_what_follows_a_uri_attribute() -> None:
    """Attributes after URI="..." survive the rewrite."""
    line = '#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x1'

    assert rewrite_uris(line, str.upper) == '#EXT-X-KEY:METHOD=AES-128,URI="KEY.BIN",IV=0x1\n'


def test_rewrite_uris_strips_stray_whitespace_around_a_segment_uri() -> None:
    """A URI line with trailing spaces resolves to the bare URI."""
    assert referenced_uris("seg_000.m4s  \n") == ["seg_000.m4s"]


def test_referenced_uris_lists_every_uri_in_order() -> None:
    """The init file first, then the segments as they play."""
    assert referenced_uris(VARIANT_PLAYLIST) == ["init_0.mp4", "seg_000.m4s", "seg_001.m4s"]


def test_referenced_uris_of_a_master_are_its_variants() -> None:
    """A master playlist refers to its variant playlists."""
    master = master_playlist([Variant(128, "128k/index.m3u8"), Variant(256, "256k/index.m3u8")])

    assert referenced_uris(master) == ["128k/index.m3u8", "256k/index.m3u8"]


# --- property 5: a master never lists a rung above the caller's tier ------------------------------

rungs = st.one_of(st.sampled_from([127, 128, 129, 255, 256, 257, 319, 320, 321]), st.integers(1, 100_000))


@settings(max_examples=200)
@given(tier=st.sampled_from(list(Tier)), available=st.lists(rungs, unique=True, max_size=10))
@example(tier=Tier.FREE, available=[320, 256, 128])
@example(tier=Tier.SUPPORTER, available=[320, 256, 128])
def test_a_master_playlist_never_lists_a_rung_above_the_callers_tier(
    tier: Tier, available: list[int]
) -> None:
    """Every rung listed is within the tier, and every rung the tier allows is listed.

    ``available`` is any subset of any ladder, which is any set of bitrates.
    """
    allowed = entitlements_for_tier(tier).allowed_rungs(available)

    playlist = master_playlist([Variant(kbps, f"{kbps}k/index.m3u8") for kbps in allowed])
    listed = listed_rungs(playlist)

    assert all(kbps <= DESIGN_MAX_KBPS[tier] for kbps in listed)
    assert listed == sorted(kbps for kbps in available if kbps <= DESIGN_MAX_KBPS[tier])
