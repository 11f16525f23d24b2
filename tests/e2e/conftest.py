"""Reports where the browser tests wrote their screenshots."""

from __future__ import annotations

import pytest

from tests.e2e.test_web_app import SHOTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    shots = sorted(SHOTS.glob("*.png")) if SHOTS.is_dir() else []
    if shots and any(
        "test_screenshots_of_the_main_pages" in r.nodeid for r in terminalreporter.stats.get("passed", [])
    ):
        terminalreporter.write_sep("-", f"{len(shots)} screenshots of the web app in {SHOTS}")
