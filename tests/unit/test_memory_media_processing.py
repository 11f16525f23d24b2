"""The in-memory probe and transcoder pass the same contracts as the ffmpeg adapters."""

from __future__ import annotations

from musicconnect.adapters.memory import InMemoryMediaProbe, InMemoryTranscoder
from musicconnect.ports.media import MediaProbe, Transcoder
from tests.contract.media_processing_contract import MediaProbeContract, TranscoderContract


class TestInMemoryMediaProbe(MediaProbeContract):
    def make_probe(self) -> MediaProbe:
        return InMemoryMediaProbe()


class TestInMemoryTranscoder(TranscoderContract):
    def make_transcoder(self) -> Transcoder:
        return InMemoryTranscoder()
