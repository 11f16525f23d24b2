"""A first look at an upload's bytes, before any demuxer sees them.

Only files that start like a known audio container go on to ffprobe. Text (renamed files,
HLS playlists, ffconcat scripts, ``concat:``/``file:``/``http:`` references) never does, so
a demuxer that follows references is never even offered one.
"""

from __future__ import annotations

from typing import Final

#: How much of the file is looked at.
HEAD_BYTES: Final = 4096

_REFERENCE_MARKERS: Final = (
    b"#extm3u",
    b"#ext-x-",
    b"ffconcat",
    b"concat:",
    b"file:",
    b"http:",
    b"https:",
    b"subfile,",
    b"crypto:",
    b"data:",
    b"pipe:",
    b"tcp:",
    b"udp:",
    b"rtmp:",
    b"ftp:",
)
_MP4_BOXES: Final = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
_CONTROL_BYTES: Final = frozenset(range(32)) - {9, 10, 12, 13}
_MPEG_SYNC_BYTE: Final = 0xFF
_MPEG_SYNC_MASK: Final = 0b1110_0000
_MPEG_LAYER_MASK: Final = 0b0000_0110


def refusal(head: bytes) -> str | None:
    """Why the file that starts with ``head`` is refused, or None if it may be probed."""
    if _is_text(head):
        lowered = head.lower()
        found = [m.decode() for m in _REFERENCE_MARKERS if m in lowered]
        if found:
            return f"the file is a playlist or refers to other files or URLs ({', '.join(found)}), not audio"
        return "the file is text, not audio"
    if not _is_audio_container(head):
        return (
            "the file is not a recognised audio container (WAV, MP3, FLAC, Ogg, AIFF, MP4/M4A, Matroska/WebM)"
        )
    return None


def _is_text(head: bytes) -> bool:
    # Every audio container's header holds binary fields (sizes, NUL padding, sync words).
    return not any(byte in _CONTROL_BYTES for byte in head)


def _is_audio_container(head: bytes) -> bool:
    riff = head[:4] in {b"RIFF", b"RF64", b"BW64"} and head[8:12] == b"WAVE"
    aiff = head[:4] == b"FORM" and head[8:12] in {b"AIFF", b"AIFC"}
    return (
        riff
        or aiff
        or head.startswith((b"ID3", b"fLaC", b"OggS", b"\x1a\x45\xdf\xa3"))
        or head[4:8] in _MP4_BOXES
        or _is_mpeg_audio_frame(head)
    )


def _is_mpeg_audio_frame(head: bytes) -> bool:
    # An MPEG audio sync word with a nonzero layer; ADTS AAC (layer 0) is not in the allow-list.
    return (
        len(head) > 1
        and head[0] == _MPEG_SYNC_BYTE
        and head[1] & _MPEG_SYNC_MASK == _MPEG_SYNC_MASK
        and head[1] & _MPEG_LAYER_MASK != 0
    )
