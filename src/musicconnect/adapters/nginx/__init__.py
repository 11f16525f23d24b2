"""nginx with its RTMP module as the live ingest server."""

from musicconnect.adapters.nginx.ingest import NginxNotFoundError, NginxRtmpIngest

__all__ = ["NginxNotFoundError", "NginxRtmpIngest"]
