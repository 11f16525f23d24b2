"""NginxRtmpIngest: a generated nginx config for RTMP pushes, run as the current user.

nginx (Debian's ``nginx`` with ``libnginx-mod-rtmp``) takes the push from OBS or ffmpeg. It asks the
API whether a stream key may publish (``on_publish``), tells it when the push ends
(``on_publish_done``) and asks again every few seconds (``on_update``: a rotated key or an ended
session drops the push); for each accepted push it runs the project's relay (``exec_push``), which
it restarts if it dies while the push goes on. Everything nginx writes stays under ``prefix``.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import attrs

#: Where Debian's libnginx-mod-rtmp puts the module.
DEBIAN_RTMP_MODULE: Final = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
INSTALL_HINT: Final = "install nginx and its RTMP module: apt-get install nginx libnginx-mod-rtmp"
#: The RTMP application OBS pushes to: ``rtmp://host:port/live`` with the stream key as its name.
APPLICATION: Final = "live"
#: Variables the relay needs from the environment (nginx passes nothing it is not told to).
_PASSED_PREFIXES: Final = ("MUSICCONNECT_", "AWS_")
_PASSED_NAMES: Final = frozenset({"PATH", "HOME", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR", "LANG"})
#: How often nginx asks the API whether a push may go on.
_UPDATE_EVERY_S: Final = 5


class NginxNotFoundError(RuntimeError):
    """nginx or its RTMP module is not installed."""


def _quoted(value: str) -> str:
    if any(c in value for c in '"\\;{}\n'):
        raise ValueError(f"{value!r} cannot go into an nginx config")
    return f'"{value}"'


@attrs.frozen
class NginxRtmpIngest:
    prefix: Path
    port: int
    #: The API's base URL, as nginx reaches it (http only: the RTMP module speaks plain HTTP).
    api_url: str
    #: Proves the callbacks come from this server (see ``Services.ingest_token``).
    token: str
    #: The relay's command; the stream key and the push's local URL are appended.
    relay: Sequence[str]
    host: str = "127.0.0.1"
    nginx: str = attrs.field(factory=lambda: shutil.which("nginx") or "/usr/sbin/nginx")
    module: Path = DEBIAN_RTMP_MODULE

    @property
    def config_file(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def ingest_url(self) -> str:
        return f"rtmp://{self.host}:{self.port}/{APPLICATION}"

    def config(self, environ: Mapping[str, str]) -> str:
        callback = f"{self.api_url.rstrip('/')}/live/ingest"
        passed = sorted(
            name for name in environ if name.startswith(_PASSED_PREFIXES) or name in _PASSED_NAMES
        )
        relay = " ".join(
            _quoted(arg)
            for arg in [*self.relay, "$name", f"rtmp://127.0.0.1:{self.port}/{APPLICATION}/$name"]
        )
        lines = [
            f"load_module {_quoted(str(self.module))};",
            "daemon off;",
            "master_process on;",
            # One worker: a live stream and its players must meet in the same process.
            "worker_processes 1;",
            *self._user_line(),
            f"pid {_quoted(str(self.prefix / 'nginx.pid'))};",
            f"error_log {_quoted(str(self.prefix / 'logs' / 'error.log'))} info;",
            *(f"env {name};" for name in passed),
            "events { worker_connections 256; }",
            "rtmp {",
            "  server {",
            f"    listen {self.host}:{self.port};",
            "    chunk_size 4096;",
            "    notify_method post;",
            f"    application {APPLICATION} {{",
            "      live on;",
            "      record off;",
            "      idle_streams off;",
            "      drop_idle_publisher 10s;",
            # Only the relay on this machine plays the push; listeners get HLS from the API.
            "      allow play 127.0.0.1;",
            "      deny play all;",
            f"      on_publish {callback}/publish?token={self.token};",
            f"      on_publish_done {callback}/publish_done?token={self.token};",
            f"      on_update {callback}/update?token={self.token};",
            f"      notify_update_timeout {_UPDATE_EVERY_S}s;",
            f"      exec_push {relay};",
            "      exec_kill_signal term;",
            "      respawn on;",
            "      respawn_timeout 2s;",
            "    }",
            "  }",
            "}",
        ]
        return "\n".join(lines) + "\n"

    def _user_line(self) -> list[str]:
        # As root nginx would switch its workers to "nobody", who cannot write our folders; as
        # anyone else it runs as that user and the directive is not wanted.
        if os.geteuid() != 0:
            return []
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        return [f"user {user} {group};"]

    def start(self, *, log: Path, environ: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Write the config and start nginx in the foreground; stop it with SIGTERM (or SIGQUIT)."""
        if not (Path(self.nginx).exists() and self.module.exists()):
            raise NginxNotFoundError(INSTALL_HINT)
        env = dict(os.environ if environ is None else environ)
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config_file.write_text(self.config(env), encoding="utf-8")
        with log.open("ab") as out:
            return subprocess.Popen(
                [
                    self.nginx,
                    *("-p", str(self.prefix)),
                    *("-c", str(self.config_file)),
                    *("-e", str(self.prefix / "logs" / "error.log")),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
