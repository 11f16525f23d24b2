"""The ffmpeg probe and transcoder pass the media-processing contracts, on real ffmpeg."""

from __future__ import annotations

import pytest

from musicconnect.adapters.ffmpeg import FfmpegMediaProbe, FfmpegTranscoder
from musicconnect.ports.media import MediaProbe, Transcoder
from tests.contract.media_processing_contract import MediaProbeContract, TranscoderContract
from tests.support.audio import require_ffmpeg

pytestmark = pytest.mark.integration


class TestFfmpegMediaProbe(MediaProbeContract):
    def make_probe(self) -> MediaProbe:
        require_ffmpeg()
        return FfmpegMediaProbe()


class TestFfmpegTranscoder(TranscoderContract):
    def make_transcoder(self) -> Transcoder:
        require_ffmpeg()
        return FfmpegTranscoder()
