"""Realistic uploads through the real probe and transcoder: every one is published, truthfully.

Speech, voice memos, phone lines, silence and quiet pieces cannot fill the upper rungs; they used
to fail ("the rungs' measured bitrates do not rise"). Now each publishes the rungs that differ.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import attrs
import m3u8
import pytest

from musicconnect.adapters.ffmpeg import FfmpegMediaProbe, FfmpegTranscoder
from musicconnect.domain.media import LADDER_KBPS, Ladder, UploadPolicy
from tests.support.audio import require_ffmpeg
from tests.support.corpus import CORPUS, Upload, generate

pytestmark = pytest.mark.integration


@attrs.frozen
class Published:
    ladder: Ladder
    out_dir: Path


@pytest.fixture(scope="module", params=CORPUS, ids=[u.filename for u in CORPUS])
def published(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """One upload, probed as the API probes it and transcoded as a worker does."""
    upload: Upload = request.param
    folder = tmp_path_factory.mktemp(upload.filename)
    source = generate(upload, folder)
    FfmpegMediaProbe().probe(source, UploadPolicy())
    out_dir = folder / "hls"
    ladder = FfmpegTranscoder(ffmpeg=require_ffmpeg()).transcode(source, out_dir, LADDER_KBPS)
    return Published(ladder=ladder, out_dir=out_dir)


def segment_rates_bps(variant: Path) -> list[float]:
    """Each segment's size in bits over its declared duration."""
    playlist = m3u8.loads(variant.read_text(encoding="utf-8"))
    return [(variant.parent / s.uri).stat().st_size * 8 / s.duration for s in playlist.segments]


def test_every_upload_is_published_from_the_lowest_rung(published: Published) -> None:
    """A master playlist exists and the ladder starts at 128k, whatever the material."""
    assert (published.out_dir / published.ladder.master).is_file()
    assert published.ladder.rungs_kbps[0] == LADDER_KBPS[0]
    assert set(published.ladder.rungs_kbps) <= set(LADDER_KBPS)


def test_each_published_rung_measures_above_the_one_below(published: Published) -> None:
    """Measured averages rise strictly: no rung sells the same sound as the one under it."""
    master = m3u8.loads((published.out_dir / published.ladder.master).read_text(encoding="utf-8"))
    averages = [p.stream_info.average_bandwidth for p in master.playlists]
    assert len(averages) == len(published.ladder.rungs)
    assert all(upper > lower for lower, upper in pairwise(averages))


def test_the_master_bandwidth_is_at_least_every_segments_rate(published: Published) -> None:
    """BANDWIDTH is a true peak: no segment of the variant needs more."""
    master = m3u8.loads((published.out_dir / published.ladder.master).read_text(encoding="utf-8"))
    for variant in master.playlists:
        rates = segment_rates_bps(published.out_dir / variant.uri)
        assert len(rates) == 2  # a full segment and the tail
        assert variant.stream_info.bandwidth >= max(rates), variant.uri
        assert variant.stream_info.bandwidth >= variant.stream_info.average_bandwidth
