"""In this process: jobs on a small thread pool (or synchronously for unit tests), the schedule of
periodic jobs, and the stream path's reads of local stores."""

from musicconnect.adapters.inprocess.access import LocalAccessReads, in_place, in_worker_thread
from musicconnect.adapters.inprocess.jobs import InlineJobQueue, ThreadJobQueue
from musicconnect.adapters.inprocess.schedule import Repeating

__all__ = [
    "InlineJobQueue",
    "LocalAccessReads",
    "Repeating",
    "ThreadJobQueue",
    "in_place",
    "in_worker_thread",
]
