"""Encoding a stored original into HLS in storage: what a track's transcode and a backstage
clip's share."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from musicconnect.domain.media import Ladder, content_type_for
from musicconnect.ports.media import MediaStorage, ProgressCallback, Transcoder


def encode_stored(
    original_key: str,
    hls_prefix: str,
    rungs_kbps: Sequence[int],
    *,
    storage: MediaStorage,
    transcoder: Transcoder,
    progress: ProgressCallback | None = None,
    only_under: str = "",
) -> Ladder:
    """Encode the original at ``original_key`` and store the output files (those whose name
    starts with ``only_under``) under ``hls_prefix``, in the ladder's order (so a playlist is
    stored after its segments). Anything under ``hls_prefix`` is cleared first, so a retry after
    a crash starts clean. MediaRejected when the original does not decode; nothing is stored then.
    """
    storage.delete_prefix(hls_prefix + "/")
    with tempfile.TemporaryDirectory(prefix="musicconnect-") as scratch:
        work = Path(scratch)
        source = work / "original"
        storage.download(original_key, source)
        ladder = transcoder.transcode(source, work / "hls", rungs_kbps, progress=progress)
        for name in ladder.files:
            if name.startswith(only_under):
                storage.put_file(f"{hls_prefix}/{name}", work / "hls" / name, content_type_for(name))
    return ladder
