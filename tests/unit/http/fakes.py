"""Small stand-ins for ffprobe and ffmpeg, for the HTTP unit tests only (the e2e uses the real ones)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from musicconnect.domain.errors import MediaRejected, MediaTooLarge
from musicconnect.domain.media import AudioInfo, Ladder, RungResult, UploadPolicy, rung_folder
from musicconnect.ports.media import ProgressCallback

#: What the fake probe accepts as audio: a WAV file's magic bytes.
AUDIO_MAGIC: Final = b"RIFF"
SEGMENT: Final = "seg_00000.m4s"
INIT: Final = "init.mp4"


def fake_audio(size: int = 2048) -> bytes:
    """Bytes the fake probe takes for a WAV file."""
    return AUDIO_MAGIC + b"\0" * max(0, size - len(AUDIO_MAGIC))


class FakeMediaProbe:
    """Accepts files that start like a WAV file; records the size of every file it saw."""

    def __init__(self) -> None:
        self.seen_sizes: list[int] = []

    def probe(self, path: Path, policy: UploadPolicy) -> AudioInfo:
        size = path.stat().st_size
        self.seen_sizes.append(size)
        if size > policy.max_bytes:
            raise MediaTooLarge("the upload is too large")
        with path.open("rb") as source:
            if source.read(len(AUDIO_MAGIC)) != AUDIO_MAGIC:
                raise MediaRejected("not an audio file")
        return AudioInfo(format_name="wav", codec="pcm_s16le", duration_s=6.0, sample_rate=44100, channels=2)


class FakeTranscoder:
    """Writes a tiny but well-formed HLS ladder: per rung an init file, one segment and a playlist."""

    def __init__(self) -> None:
        self.calls = 0

    def transcode(
        self,
        source: Path,
        out_dir: Path,
        ladder_kbps: Sequence[int],
        *,
        progress: ProgressCallback | None = None,
    ) -> Ladder:
        self.calls += 1
        if not source.read_bytes().startswith(AUDIO_MAGIC):
            raise MediaRejected("cannot decode the source")
        media: list[str] = []
        playlists: list[str] = []
        rungs = []
        for kbps in ladder_kbps:
            folder = out_dir / rung_folder(kbps)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / INIT).write_bytes(b"init-" + str(kbps).encode())
            (folder / SEGMENT).write_bytes(b"segment-" + str(kbps).encode())
            (folder / "index.m3u8").write_text(
                "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n"
                f'#EXT-X-MAP:URI="{INIT}"\n#EXTINF:6.0,\n{SEGMENT}\n#EXT-X-ENDLIST\n',
                encoding="utf-8",
            )
            media += [f"{rung_folder(kbps)}/{INIT}", f"{rung_folder(kbps)}/{SEGMENT}"]
            playlists.append(f"{rung_folder(kbps)}/index.m3u8")
            # Measured a little under nominal, peaking a little over, as real rungs do.
            rungs.append(
                RungResult(kbps=kbps, measured_kbps=kbps * 0.9, playlist=playlists[-1], peak_kbps=kbps * 1.05)
            )
        (out_dir / "master.m3u8").write_text("#EXTM3U\n", encoding="utf-8")
        if progress is not None:
            progress(1.0)
        return Ladder(
            duration_s=6.0,
            rungs=tuple(rungs),
            files=(*media, *playlists, "master.m3u8"),
            master="master.m3u8",
        )
