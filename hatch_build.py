"""Puts the web app's browser packages (installed by ``npm ci``) into the sdist and the wheel.

An editable install serves them from node_modules. A release carries copies: the sdist under
``src/musicconnect/entrypoints/web/vendor/`` (so a wheel builds from it with no node_modules),
the wheel inside the package. Building a release with neither fails and says how to fix it.
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
VENDOR = "musicconnect/entrypoints/web/vendor"


class VendorFilesHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        root = Path(self.root)
        target = f"src/{VENDOR}" if self.target_name == "sdist" else VENDOR
        for name, source in VENDOR_FILES.items():
            installed = root / "node_modules" / source
            # An unpacked sdist carries them in the package folder (which .gitignore leaves out).
            carried = root / "src" / VENDOR / name
            if installed.is_file():
                build_data["force_include"][str(installed)] = f"{target}/{name}"
            elif carried.is_file():
                build_data["force_include"][str(carried)] = f"{target}/{name}"
            else:
                raise FileNotFoundError(f"{installed} is missing: run `npm ci` before building a release")
