"""Uploading a track through the served API, as the end-to-end tests do."""

from __future__ import annotations

from pathlib import Path

import httpx


def uploaded_track(
    http: httpx.Client, artist_id: str, auth: dict[str, str], audio: Path, *, title: str, **fields: str
) -> str:
    """The id of the track the artist uploads from ``audio`` (accepted, 202, and transcoding in
    the background); ``fields`` are the form's other fields (``release_at``, ``exclusive``)."""
    with audio.open("rb") as body:
        upload = http.post(
            f"/artists/{artist_id}/tracks",
            headers=auth,
            files={"file": (audio.name, body, "audio/wav")},
            data={"title": title, **fields},
        )
    assert upload.status_code == 202, upload.text
    return str(upload.json()["track_id"])
