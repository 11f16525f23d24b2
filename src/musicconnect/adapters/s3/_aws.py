"""What the S3 adapters share: one botocore configuration, and AWS errors turned into domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from musicconnect.domain.errors import NotFound, ServiceUnavailable

#: Error codes S3 answers with when a key (or the object behind a HEAD) does not exist.
MISSING_KEY_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound"})
#: Codes that say "try again later" rather than "you asked for something wrong".
_RETRYABLE_CODES: Final = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "503", "500"},
)


def aws_config(*, path_style: bool = False, max_pool_connections: int = 10) -> Config:
    """SigV4 everywhere (boto3 presigns with SigV2 otherwise) and the standard retry mode."""
    s3: dict[str, Any] = {"addressing_style": "path"} if path_style else {}
    return Config(
        signature_version="s3v4",
        retries={"mode": "standard"},
        max_pool_connections=max_pool_connections,
        s3=s3,
    )


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(key: str | None = None) -> Iterator[None]:
    """Missing keys become NotFound; an unreachable or overloaded service becomes ServiceUnavailable."""
    try:
        yield
    except ClientError as error:
        code = error_code(error)
        if key is not None and code in MISSING_KEY_CODES:
            raise NotFound(f"no media stored under {key!r}") from None
        if code in _RETRYABLE_CODES:
            raise ServiceUnavailable(f"S3 is unavailable ({code}); try again later") from error
        raise
    except (BotoConnectionError, HTTPClientError) as error:  # the read and connect timeouts derive from these
        raise ServiceUnavailable(f"S3 cannot be reached: {error}") from error
