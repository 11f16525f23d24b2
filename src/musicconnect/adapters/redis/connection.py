"""redis-py clients made lazily, one per thread, with timeouts short enough to answer "down" quickly.

redis-py retries a failed command ten times with back-off by default, so a request behind a dead
Redis would wait seconds before it could answer 503. Quotas and revocation fail closed, so a fast
"no" is worth more than a patient one: one retry, a few milliseconds apart, then ServiceUnavailable.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import hiredis
import redis
import redis.asyncio
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from musicconnect.domain.errors import ServiceUnavailable

_T = TypeVar("_T")

DEFAULT_SOCKET_TIMEOUT_S: Final = 2.0
DEFAULT_CONNECT_TIMEOUT_S: Final = 1.0
DEFAULT_RETRIES: Final = 1

#: Every failure of the store that should read as "unavailable": redis-py wraps socket errors in
#: ConnectionError and TimeoutError, but a few paths (DNS, TLS set-up) surface as OSError.
REDIS_FAILURES: Final = (RedisError, OSError)
#: Failures of the connection rather than of the command: worth one more try on a new connection.
_TRANSPORT_FAILURES: Final = (redis.ConnectionError, redis.TimeoutError, OSError)
_RETRY_PAUSE_S: Final = 0.005


class RedisConnection:
    """redis-py clients for ``url``, one per thread and process, each made on first use there.

    Nothing connects before a thread's first command. Each thread keeps a client of its own on a
    single connection rather than sharing one pooled client: these checks run on every request
    (token revocation) or every message (quotas), and threads sharing a pooled client queue on
    the pool's lock: with 4 processes of 4 threads, acquires/s went from about 4 k pooled to about
    12 k thread-local (bench/bench_quota.py, 2 cores). There are as many connections as a pool
    would open: one per thread that talks to Redis. A client closes when its thread ends.
    A client is tied to its process, so one instance can be built before ``serve --workers N``
    forks: a child never writes to a socket it shares with its parent.
    """

    def __init__(
        self,
        url: str,
        *,
        socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        self.url = url
        self.socket_timeout_s = socket_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.retries = retries
        self._local = threading.local()
        self._lock = threading.Lock()
        # Weak, so that a client goes (and closes) with its thread; valued by the process it is for.
        self._made: weakref.WeakKeyDictionary[redis.Redis, int] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_without_password(self.url)!r})"

    def client(self) -> redis.Redis:
        """This thread's client, connected; raises redis-py's errors if Redis cannot be reached."""
        held: tuple[int, redis.Redis] | None = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        client = redis.Redis.from_url(
            self.url,
            socket_timeout=self.socket_timeout_s,
            socket_connect_timeout=self.connect_timeout_s,
            retry=Retry(ExponentialWithJitterBackoff(base=0.005, cap=0.05), self.retries),
            single_connection_client=True,
        )
        self._local.held = (os.getpid(), client)
        with self._lock:
            self._made[client] = os.getpid()
        return client

    def run(self, command: Callable[[redis.Redis], _T], *, what: str) -> _T:
        """``command`` on this thread's client; any failure to reach Redis is ServiceUnavailable."""
        try:
            return command(self.client())
        except REDIS_FAILURES as error:
            raise ServiceUnavailable(f"redis is unavailable ({what}): {error}") from error

    def command(self, *args: str | int, what: str, resend: bool = True) -> Any:
        """One command, sent the lean way; its reply raw (bytes, int, None); failures ServiceUnavailable.

        For the checks on every request (token revocation) or message (quotas): hiredis packs the
        command and it goes straight down this thread's connection, skipping what redis-py's
        client does around each command (argument handling, the retry wrapper, response
        callbacks), which is most of the client's CPU for a call: about 30 us instead of 75 us
        on the benchmark machine. Connecting, AUTH, TLS and timeouts are still the connection's.
        """
        try:
            return self._lean(args, resend=resend)
        except REDIS_FAILURES as error:
            raise ServiceUnavailable(f"redis is unavailable ({what}): {error}") from error

    def script(
        self,
        script: LuaScript,
        keys: Sequence[str],
        args: Sequence[str | int],
        *,
        what: str,
        resend: bool = True,
    ) -> Any:
        """``script`` by its SHA1 the lean way, sent in full when the server has not seen it yet."""
        try:
            try:
                return self._lean(("EVALSHA", script.sha, len(keys), *keys, *args), resend=resend)
            except NoScriptError:
                return self._lean(("EVAL", script.source, len(keys), *keys, *args), resend=resend)
        except REDIS_FAILURES as error:
            raise ServiceUnavailable(f"redis is unavailable ({what}): {error}") from error

    def _lean(self, args: Sequence[str | int], *, resend: bool) -> Any:
        """Send ``args`` and read the reply, trying once more on a new connection if the send failed
        (a connection a restarted Redis closed). After a failure *reading* the reply the command may
        have run, so it is sent again only when ``resend``: when running it twice does no harm."""
        # hiredis's stub types the tuple as a single item; it takes any number.
        packed = [hiredis.pack_command(tuple(args))]  # type: ignore[arg-type]
        for attempt in range(self.retries + 1):
            sent = False
            try:
                connection = self.client().connection
                if connection is None:  # closed by close() in another thread: a lost connection
                    raise redis.ConnectionError("the connection was closed")
                connection.send_packed_command(packed, check_health=False)  # type: ignore[no-untyped-call]
                sent = True
                return connection.read_response()
            except _TRANSPORT_FAILURES:
                # The connection closed itself; the next attempt connects again.
                if attempt == self.retries or (sent and not resend):
                    raise
                time.sleep(_RETRY_PAUSE_S * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close this process's clients; a thread that talks to Redis again makes a new one."""
        with self._lock:
            mine = [client for client, pid in self._made.items() if pid == os.getpid()]
            self._made.clear()
        self._local = threading.local()
        for client in mine:
            client.close()


def as_connection(redis_or_url: RedisConnection | str) -> RedisConnection:
    return redis_or_url if isinstance(redis_or_url, RedisConnection) else RedisConnection(redis_or_url)


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}{sep}{user}:***@{host}"


class LuaScript:
    """A Lua script, known to the server by its SHA1 (see ``RedisConnection.script``)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()


class AsyncRedisConnection:
    """Commands for async code, sent the lean way (see ``RedisConnection.command``) on redis.asyncio
    connections, so a request's reads are awaited on the event loop instead of a worker thread.

    Idle connections wait on a stack, the most recently used on top; a call takes one, writes its
    commands in one go, reads their replies and puts it back. A connection whose replies were not
    all read (an error, a timeout, a cancelled request) is closed rather than put back, so no reply
    is ever read by the wrong call. Connections belong to the process and event loop that made
    them: a forked worker or a new loop starts with none.
    """

    def __init__(self, like: RedisConnection | str) -> None:
        """Connections to the server ``like`` talks to, with its timeouts and retries."""
        like = as_connection(like)
        self.url = like.url
        self.retries = like.retries
        self._factory = redis.asyncio.ConnectionPool.from_url(
            like.url, socket_timeout=like.socket_timeout_s, socket_connect_timeout=like.connect_timeout_s
        )
        self._idle: list[redis.asyncio.Connection] = []
        self._owner: tuple[int, asyncio.AbstractEventLoop] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_without_password(self.url)!r})"

    async def pipeline(self, *commands: Sequence[str | int], what: str) -> list[Any]:
        """Each command's raw reply, in order; failures to reach Redis are ServiceUnavailable.

        For reads only: when a connection fails, the commands are sent again on a new one.
        """
        packed = [b"".join(hiredis.pack_command(tuple(c)) for c in commands)]  # type: ignore[arg-type]
        for attempt in range(self.retries + 1):
            connection = self._take()
            finished = False
            try:
                await connection.send_packed_command(packed, check_health=False)
                replies = [await connection.read_response() for _ in commands]
                finished = True
            except _TRANSPORT_FAILURES as error:
                if attempt == self.retries:
                    raise ServiceUnavailable(f"redis is unavailable ({what}): {error}") from error
                await asyncio.sleep(_RETRY_PAUSE_S * (attempt + 1))
                continue
            except RedisError as error:
                raise ServiceUnavailable(f"redis is unavailable ({what}): {error}") from error
            finally:
                if finished:
                    self._idle.append(connection)
                else:
                    await connection.disconnect(nowait=True)
            return replies
        raise AssertionError("unreachable")  # pragma: no cover

    def _take(self) -> redis.asyncio.Connection:
        owner = (os.getpid(), asyncio.get_running_loop())
        if self._owner != owner:
            # Another process's or loop's sockets are not ours to use, nor to close.
            self._owner, self._idle = owner, []
        if self._idle:
            return self._idle.pop()
        made: redis.asyncio.Connection = self._factory.make_connection()  # type: ignore[no-untyped-call]
        return made

    async def close(self) -> None:
        """Close the idle connections; the next call connects again."""
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()
