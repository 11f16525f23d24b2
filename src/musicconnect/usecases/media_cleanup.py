"""Deleting media bytes once the database no longer points at them: a replaced or erased
picture, a deleted or erased backstage post's images and clip.

Always after the commit that dropped the last reference, never inside the transaction: a
rollback must not leave a record pointing at bytes already gone.

A storage that fails to delete does not fail the request: the person's change is committed and
is what they asked for, and saying "error" would invite a retry that finds nothing left to do
(the post or the old picture is gone from the database, so neither the artist nor a later call
can ask again). The failure is logged at ERROR with the exact prefix, for an operator to delete.
There is no reconciling sweep on purpose: uploads store their bytes *before* the commit that
records them, so "bytes no record points at" is also the normal state of an upload under way,
and a sweep would need a full listing of the storage (costly on S3) plus a grace period to tell
the two apart. Meanwhile the orphaned bytes are unreachable: media are served only through a
record that names them (a post that exists, the artist's current picture key), and each
picture has a key of its own that is never reused.
"""

from __future__ import annotations

import logging

from musicconnect.ports.media import MediaStorage

log = logging.getLogger(__name__)


def discard_media(storage: MediaStorage, *prefixes: str) -> None:
    """Delete every key under each prefix; log, and go on, when the storage fails."""
    for prefix in prefixes:
        try:
            storage.delete_prefix(prefix)
        except Exception:  # any failure: see the module docstring, the request has succeeded
            log.exception(
                "could not delete the media under %r: its bytes stay in storage, unreferenced", prefix
            )


def picture_folder(image_key: str) -> str:
    """The prefix of a profile picture's own folder (each picture has one: a new one is a new URL)."""
    return image_key.rsplit("/", 1)[0] + "/"
