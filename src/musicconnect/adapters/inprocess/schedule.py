"""Something done again and again on a thread of its own: the scheduler of periodic jobs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Self

_log = logging.getLogger(__name__)


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

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the thread to stop and wait up to ``timeout_s`` for a call under way to end."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._action()
            except Exception:  # noqa: BLE001 - see the class docstring
                _log.exception("%s failed; trying again in %s s", self.name, self._interval_s)
            self._stopping.wait(self._interval_s)
