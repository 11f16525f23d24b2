"""Puts the web app's browser packages (installed by ``npm ci``) into the wheel.

An editable install serves them from node_modules; a built wheel must carry them, so building one
without them fails and says how to fix it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: What the app serves under /vendor/, and where npm puts it.
VENDOR_FILES = {
    "hls.min.js": "hls.js/dist/hls.min.js",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
}


class VendorFilesHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        modules = Path(self.root) / "node_modules"
        for name, source in VENDOR_FILES.items():
            path = modules / source
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing: run `npm ci` before building the wheel")
            build_data["force_include"][str(path)] = f"musicconnect/entrypoints/web/vendor/{name}"
