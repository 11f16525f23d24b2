"""Running ffmpeg tools: hostile inputs confined, every run under a deadline, failures explained."""

from __future__ import annotations

import re
import subprocess
import tempfile
import threading
from typing import TYPE_CHECKING, Final

import ffmpeg

from musicconnect.domain.errors import MediaRejected
from musicconnect.domain.media import ALLOWED_FORMATS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

#: Only local files and pipes: no network, no ``concat:``/``subfile:``/``crypto:`` protocols.
PROTOCOLS: Final = "file,pipe"
#: ffmpeg matches any comma-separated alias, so "mov" admits "mov,mp4,m4a,3gp,3g2,mj2" and
#: "matroska" admits "matroska,webm"; hls, concat, ffmetadata and the like are refused.
DEMUXERS: Final = ",".join(sorted(ALLOWED_FORMATS))
_TAIL_LINES: Final = 6
_READ_SIZE: Final = 1 << 16
_NOISE: Final = re.compile(r"\[[^\]\s]+ @ 0x[0-9a-f]+\] |file:/.*?: ")


def input_args(source: Path) -> list[str]:
    """Arguments that open ``source`` as a plain local file with an allow-listed demuxer.

    The ``file:`` prefix makes a name like ``concat:a.wav|b.wav`` a file name, not a protocol.
    """
    return [*(arg for key, value in _INPUT_OPTIONS.items() for arg in (f"-{key}", value)), "-i", _url(source)]


def open_input(source: Path, **options: str) -> ffmpeg.nodes.FilterableStream:
    """``source`` as an ffmpeg-python input node, confined as ``input_args`` confines it, to
    decode; ``options`` are more input options (``t="60"`` reads at most a minute). A packet
    its demuxer knows is cut short (a WAV's last one, in a file cut mid-way) is dropped rather
    than failing the decode: the probe decides what damage is, and a cut end is not."""
    return ffmpeg.input(_url(source), **options, **_INPUT_OPTIONS, fflags="+discardcorrupt")


def compile_command(binary: str, output: ffmpeg.nodes.OutputStream, *global_args: str) -> list[str]:
    """The argument list of an ffmpeg-python graph, for our runner (never ffmpeg-python's)."""
    return list(output.global_args(*global_args).compile(cmd=binary))


_INPUT_OPTIONS: Final = {"protocol_whitelist": PROTOCOLS, "format_whitelist": DEMUXERS}


def _url(source: Path) -> str:
    return f"file:{source.resolve()}"


def stderr_tail(stderr: bytes | str) -> str:
    """ffmpeg's last few lines, where it says what went wrong, fit to show an uploader.

    Component addresses (``[mp3 @ 0x55...]``) and our own file paths are dropped: they mean
    nothing to the uploader and the paths are the server's business.
    """
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = [_NOISE.sub("", line).strip() for line in text.splitlines()]
    return " | ".join([line for line in lines if line][-_TAIL_LINES:]) or "no diagnostics"


def run_tool(
    args: Sequence[str],
    *,
    timeout_s: float,
    what: str,
) -> subprocess.CompletedProcess[bytes]:
    """Run a tool to completion; a timeout is a rejection, a nonzero exit is the caller's call."""
    try:
        return subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaRejected(f"{what} took longer than {timeout_s:g} s") from exc


def check_tool(result: subprocess.CompletedProcess[bytes], *, what: str) -> None:
    if result.returncode != 0:
        raise MediaRejected(f"{what} failed: {stderr_tail(result.stderr)}")


def stream_tool(
    args: Sequence[str],
    *,
    timeout_s: float,
    what: str,
    on_stdout: Callable[[bytes], None],
    cwd: Path | None = None,
) -> str:
    """Run a tool, feeding its stdout to ``on_stdout`` as it arrives; return its stderr.

    Raise MediaRejected on a nonzero exit or when ``timeout_s`` passes; the process never
    outlives the call, even when ``on_stdout`` raises.
    """
    expired = threading.Event()
    # stderr goes to an anonymous file so a chatty tool can never block on a full pipe.
    with (
        tempfile.TemporaryFile() as err,
        subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=cwd,
            # Unbuffered: each read returns what has arrived rather than waiting to fill 64 kB,
            # so progress lines reach the caller as ffmpeg writes them.
            bufsize=0,
        ) as proc,
    ):

        def expire() -> None:
            expired.set()
            proc.kill()

        timer = threading.Timer(timeout_s, expire)
        timer.start()
        try:
            stdout = proc.stdout
            if stdout is None:  # pragma: no cover - stdout=PIPE always gives one
                raise RuntimeError("no stdout pipe")
            while chunk := stdout.read(_READ_SIZE):
                on_stdout(chunk)
            returncode = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if expired.is_set():
        raise MediaRejected(f"{what} took longer than {timeout_s:g} s")
    if returncode != 0:
        raise MediaRejected(f"{what} failed: {stderr_tail(stderr)}")
    return stderr
