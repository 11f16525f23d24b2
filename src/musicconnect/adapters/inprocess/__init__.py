"""Jobs run inside this process: a small thread pool, or synchronously for unit tests."""

from musicconnect.adapters.inprocess.jobs import InlineJobQueue, ThreadJobQueue

__all__ = ["InlineJobQueue", "ThreadJobQueue"]
