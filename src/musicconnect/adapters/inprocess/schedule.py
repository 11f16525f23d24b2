"""Something done again and again on a thread of its own: the scheduler of periodic jobs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

_log = logging.getLogger(__name__)
STOP_WAIT_S: Final = 10.0


class Repeating:
    """Calls ``action`` at once, then every ``interval_s`` seconds, on a daemon thread, until
    ``stop``. A failing call is logged and the next one happens on time: a scheduler thread that
    died on one error would never run anything again."""

    def __init__(self, name: str, interval_s: float, action: Callable[[], object]) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.name = name
        self._interval_s = interval_s
        self._action = action
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # Neither takes a parameter, so both serve as Litestar lifespan hooks as they are.
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop and wait a while (``STOP_WAIT_S``) for a call under way to end."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT_S)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._action()
            except Exception:  # noqa: BLE001 - see the class docstring
                _log.exception("%s failed; trying again in %s s", self.name, self._interval_s)
            self._stopping.wait(self._interval_s)
