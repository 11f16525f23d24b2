"""The artist's profile picture from the studio: a native multipart form through the same
ImageProcessor checks as the API's ``PUT /artists/{id}/image``."""

from __future__ import annotations

from typing import Any, Final

import anyio.to_thread
from litestar import Controller, Request, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect

from musicconnect.domain.accounts import Role
from musicconnect.domain.errors import InvalidInput
from musicconnect.entrypoints.web.common import CallsDep, VisitorDep, require_visitor, see_other
from musicconnect.usecases.artists import PICTURE_POLICY

_MAX_FORM_BYTES: Final = PICTURE_POLICY.max_bytes + 64 * 1024


class PicturePages(Controller):
    path = "/studio/picture"

    @post("/", request_max_body_size=_MAX_FORM_BYTES)
    async def upload(
        self, *, request: Request[Any, Any, Any], calls: CallsDep, visitor: VisitorDep
    ) -> Redirect:
        artist = require_visitor(visitor, Role.ARTIST)
        form = await request.form()  # parsed once already, for its CSRF token
        part = form.get("file")
        if not isinstance(part, UploadFile) or not part.filename:
            raise InvalidInput("choose a picture to upload")
        data = await part.read()
        await anyio.to_thread.run_sync(
            lambda: calls.platform.artists.set_picture(artist.id, data, caller=artist)
        )
        return see_other("/studio?saved=picture")
