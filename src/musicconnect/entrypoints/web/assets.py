"""The pages' own scripts and styles, and the npm packages they use (never copied into the repository:
served from node_modules in a source checkout, from the copies hatch_build.py puts in a wheel)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar import Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File
from litestar.static_files import create_static_files_router

HERE: Final = Path(__file__).resolve().parent
#: What the pages load from /vendor/, and where npm installs it.
VENDOR_FILES: Final = {
    "hls.min.js": "hls.js/dist/hls.min.js",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
}
_CACHE: Final = {"Cache-Control": "public, max-age=86400"}


def vendor_file(name: str) -> Path | None:
    """The installed copy of a browser package file: the wheel's, else the checkout's node_modules."""
    source = VENDOR_FILES.get(name)
    if source is None:
        return None
    for candidate in (HERE / "vendor" / name, HERE.parents[3] / "node_modules" / source):
        if candidate.is_file():
            return candidate
    return None


@get("/vendor/{name:str}", include_in_schema=False, sync_to_thread=False)
def vendor(name: FromPath[str]) -> File:
    path = vendor_file(name)
    if path is None:
        raise NotFoundException(f"{name} is not installed: run `npm ci`")
    return File(path, content_disposition_type="inline", media_type="text/javascript", headers=_CACHE)


def asset_routers() -> list[Router]:
    static = create_static_files_router(
        path="/static", directories=[HERE / "static"], include_in_schema=False, cache_control=None
    )
    return [static, Router(path="/", route_handlers=[vendor], include_in_schema=False)]
