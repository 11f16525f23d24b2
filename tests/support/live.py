"""Live ingest for tests and benchmarks: `musicconnect live` on a free port, and ffmpeg pushes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import ServerProcess, require_binary
from tests.support.servers import free_port

NGINX_HINT = "apt-get install nginx libnginx-mod-rtmp"


def require_nginx_rtmp() -> None:
    """nginx and its RTMP module, or a failure saying how to install them (never a skip)."""
    require_binary("nginx", NGINX_HINT)
    if not Path("/usr/lib/nginx/modules/ngx_rtmp_module.so").exists():
        pytest.fail(f"nginx's RTMP module is not installed: {NGINX_HINT}")


def rtmp_port() -> int:
    return free_port()


@contextmanager
def live_ingest(data_dir: Path, api_url: str, port: int, log: Path, env: Mapping[str, str]) -> Iterator[int]:
    """`musicconnect live` on ``port`` calling back ``api_url``; yields the port."""
    server = ServerProcess(
        command=lambda p: [
            sys.executable,
            "-m",
            "musicconnect",
            "live",
            *("--port", str(p)),
            *("--api-url", api_url),
            *("--data-dir", str(data_dir)),
        ],
        log=log,
        port=port,
    )
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)  # ServerProcess passes the test's environment on
    try:
        server.start()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield port
    finally:
        server.stop()


#: Realistic-ish programme material: a chord, pink noise, and a 4 Hz swell like syllables.
PROGRAMME = (
    "sine=f=220:sample_rate=44100[a];sine=f=277:sample_rate=44100[b];"
    "sine=f=330:sample_rate=44100[c];anoisesrc=color=pink:amplitude=0.15:sample_rate=44100[n];"
    "[a][b][c][n]amix=inputs=4,tremolo=f=4:d=0.7,aformat=channel_layouts=stereo[out0]"
)


def push_command(url: str, seconds: float, *, programme: str = PROGRAMME) -> list[str]:
    """ffmpeg pushing ``seconds`` of generated audio in real time, as OBS would (AAC in FLV)."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "install ffmpeg: apt-get install ffmpeg"
    return [
        ffmpeg,
        *("-hide_banner", "-loglevel", "error", "-nostdin"),
        *("-re", "-f", "lavfi", "-i", programme, "-t", f"{seconds:g}"),
        *("-c:a", "aac", "-b:a", "192k", "-f", "flv", url),
    ]


def push(url: str, seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(push_command(url, seconds), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def refused(url: str, timeout_s: float = 20.0) -> bool:
    """Whether a push to ``url`` is dropped by the server (ffmpeg fails long before its 30 s end)."""
    try:
        result = subprocess.run(push_command(url, 30.0), capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return False  # still pushing: accepted
    return result.returncode != 0
