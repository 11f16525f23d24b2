"""Fakes of the probe and transcoder that need no ffmpeg: WAV only, with a simulated ladder.

They follow the same contracts as the ffmpeg adapters (tests/contract/media_processing_contract.py),
so unit tests of the use cases and the API can run in milliseconds. The segments they write have
the right names, count and size for their bitrate, but hold no playable audio.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from musicconnect.domain.errors import InvalidInput, MediaRejected, MediaTooLarge
from musicconnect.domain.hls import Variant, master_playlist
from musicconnect.domain.media import (
    VARIANT_PLAYLIST,
    AudioInfo,
    Ladder,
    RungResult,
    UploadPolicy,
    rung_folder,
)
from musicconnect.ports.media import ProgressCallback

SEGMENT_S: Final = 6.0
MASTER: Final = "master.m3u8"


def _read_wav(path: Path) -> AudioInfo:
    try:
        with wave.open(str(path), "rb") as audio:
            rate, channels, width = audio.getframerate(), audio.getnchannels(), audio.getsampwidth()
            # A file cut short holds fewer frames than its header promises: those it holds
            # are the recording, as the ffmpeg probe decodes them.
            frames = len(audio.readframes(audio.getnframes())) // max(1, channels * width)
    except (wave.Error, EOFError) as error:
        raise MediaRejected(f"not a WAV file this fake can read: {error}") from error
    if rate <= 0 or frames <= 0:
        raise MediaRejected("the WAV file holds no audio")
    return AudioInfo(
        format_name="wav",
        codec=f"pcm_s{8 * width}le",
        duration_s=frames / rate,
        sample_rate=rate,
        channels=channels,
        bit_rate=rate * channels * width * 8,
    )


class InMemoryMediaProbe:
    """Accepts PCM WAV files within the policy's size and duration limits."""

    def probe(self, path: Path, policy: UploadPolicy) -> AudioInfo:
        if path.stat().st_size > policy.max_bytes:
            raise MediaTooLarge(f"the upload is larger than {policy.max_bytes} bytes")
        info = _read_wav(path)
        if not policy.min_duration_s <= info.duration_s <= policy.max_duration_s:
            raise MediaRejected(
                f"the audio lasts {info.duration_s:.1f} s; allowed {policy.min_duration_s:g} "
                f"to {policy.max_duration_s:g} s",
            )
        return info


class InMemoryTranscoder:
    """Writes a ladder shaped like ffmpeg's (init file, ~6 s segments, playlists, master last)."""

    def transcode(
        self,
        source: Path,
        out_dir: Path,
        ladder_kbps: Sequence[int],
        *,
        progress: ProgressCallback | None = None,
    ) -> Ladder:
        if not ladder_kbps:
            raise InvalidInput("a ladder needs at least one rung")
        duration = _read_wav(source).duration_s
        count = max(1, math.ceil(duration / SEGMENT_S))
        media: list[str] = []
        rungs: list[RungResult] = []
        for step, kbps in enumerate(sorted(ladder_kbps), start=1):
            folder = out_dir / rung_folder(kbps)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "init.mp4").write_bytes(b"ftyp" + bytes(60))
            lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
            lines.append('#EXT-X-MAP:URI="init.mp4"')
            media.append(f"{rung_folder(kbps)}/init.mp4")
            for index in range(count):
                length = min(SEGMENT_S, duration - index * SEGMENT_S)
                name = f"segment_{index:05d}.m4s"
                (folder / name).write_bytes(bytes(int(kbps * 125 * length)))
                lines += [f"#EXTINF:{length:.3f},", name]
                media.append(f"{rung_folder(kbps)}/{name}")
            lines.append("#EXT-X-ENDLIST")
            (folder / VARIANT_PLAYLIST).write_text("\n".join(lines) + "\n", encoding="utf-8")
            rungs.append(
                RungResult(
                    kbps=kbps, measured_kbps=float(kbps), playlist=f"{rung_folder(kbps)}/{VARIANT_PLAYLIST}"
                )
            )
            if progress is not None:
                progress(step / len(ladder_kbps))
        (out_dir / MASTER).write_text(
            master_playlist([Variant(r.kbps, r.playlist) for r in rungs]),
            encoding="utf-8",
        )
        return Ladder(
            duration_s=duration,
            rungs=tuple(rungs),
            files=(*media, *(r.playlist for r in rungs), MASTER),
            master=MASTER,
        )


#: The rate of the WAV the fake packer writes: the recorded bytes become its 16-bit mono samples.
_PACKED_RATE: Final = 8000


class InMemoryRecordingPacker:
    """Joins a live session's recorded parts into a PCM WAV the fake probe and transcoder accept:
    the parts' bytes, in order, become its samples (no AAC is decoded)."""

    def pack(self, parts: Sequence[Path], target: Path) -> None:
        joined = b"".join(part.read_bytes() for part in parts)
        with wave.open(str(target), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(_PACKED_RATE)
            out.writeframes(joined + b"\0" * (len(joined) % 2))


class _EndedEncoding:
    def exit_code(self) -> int | None:
        return 0

    def stop(self, timeout_s: float) -> int:  # noqa: ARG002 - it has nothing to stop
        return 0


class InMemoryLiveTranscoder:
    """No live encoding in memory: pushes arrive over RTMP, which an in-memory platform has no
    server for. An encoding it starts has already ended, having written nothing."""

    def start(
        self,
        source_url: str,  # noqa: ARG002 - nothing is read: see the class doc
        out_dir: Path,  # noqa: ARG002 - nothing is written
        ladder_kbps: Sequence[int],
        *,
        run: str,  # noqa: ARG002
    ) -> _EndedEncoding:
        if not ladder_kbps:
            raise InvalidInput("a ladder needs at least one rung")
        return _EndedEncoding()
