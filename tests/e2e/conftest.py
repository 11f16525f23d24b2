"""Reports where the browser tests wrote their screenshots."""

from __future__ import annotations

import pytest
from _pytest.terminal import TerminalReporter

from tests.e2e.test_web_app import SHOTS


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    shots = sorted(SHOTS.glob("*.png")) if SHOTS.is_dir() else []
    if shots and any(
        r.nodeid.endswith("screenshots_of_the_main_pages_at_desktop_and_phone_width")
        for r in terminalreporter.stats.get("passed", [])
    ):
        terminalreporter.write_sep("-", f"{len(shots)} screenshots of the web app in {SHOTS}")
