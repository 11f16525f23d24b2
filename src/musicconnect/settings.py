"""Settings from the environment (``MUSICCONNECT_*``); unset means the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "musicconnect"


class Settings(BaseSettings):
    """Built once by an entrypoint; tests construct ``Settings(...)`` directly."""

    model_config = SettingsConfigDict(env_prefix="MUSICCONNECT_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    secret_key: str | None = None
    public_base_url: str = ""
    #: Web origins whose pages may call the API and play streams (comma-separated).
    cors_origins: str = ""

    max_upload_bytes: int = 200 * 1024 * 1024
    max_duration_s: float = 20 * 60.0
    url_ttl_s: int = 2 * 60 * 60
    payout_minimum_minor: int = 100
    #: Seconds a reserved payment belongs to its request; after that a crash left it, and the next
    #: request or billing run finishes it with the same key.
    payment_lease_s: int = Field(default=120, ge=1)
    transcode_workers: int = 1
    #: What artists paste into OBS as the server (the stream key names the session).
    live_ingest_url: str = "rtmp://127.0.0.1:1935/live"
    #: Seconds a dropped push may take to come back before its session ends.
    live_grace_s: float = Field(default=30.0, gt=0)
    #: Seconds a connected push may publish nothing before its session fails.
    live_stall_s: float = Field(default=60.0, gt=0)
    #: Seconds between sweeps for releases opening (early access, then public): the most a
    #: follower waits past the opening for its notification.
    release_sweep_s: float = Field(default=60.0, gt=0)

    # Production adapters: each selected by its setting (see the README's Production section).
    mongodb_uri: str | None = None
    mongodb_database: str = "musicconnect"
    redis_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    cloudfront_domain: str | None = None
    cloudfront_key_id: str | None = None
    cloudfront_private_key_file: Path | None = None
    stripe_api_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None

    # Email: an SMTP relay when a host is set, else .eml files in the data folder's outbox.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    email_from: str = "Music Connect <no-reply@localhost>"
    #: Multiplies every login, registration, reset and play limit (load tests; never below 1 each).
    throttle_scale: float = Field(default=1.0, gt=0)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]
