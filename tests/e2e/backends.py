"""The adapter sets the end-to-end tests run the product on: embedded, and production-like.

"production" is MongoDB (nx-27017), Redis and S3 (moto), each a real server process on loopback
that the suite starts and stops itself, with transcodes run by a separate `musicconnect worker`
process taking jobs from the Redis queue: the API talks to them as it would to Atlas, Redis and S3.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import boto3

from tests.support.mongo_server import external_mongodb_uri, mongo_uri, nx_27017_server
from tests.support.moto_s3 import endpoint_url, moto_server
from tests.support.redis_server import redis_server, redis_url
from tests.support.servers import stop

BACKENDS = ("embedded", "production")
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def backend_env(
    name: str, folder: Path, *, workers: list[subprocess.Popen[bytes]] | None = None
) -> Iterator[dict[str, str]]:
    """Environment variables selecting the backend, with its servers running until exit. The
    production worker process is appended to ``workers``, for tests that kill it."""
    if name == "embedded":
        yield {}
        return
    with ExitStack() as stack:
        uri = external_mongodb_uri()
        if uri is None:
            mongo = nx_27017_server(folder / "mongo")
            stack.callback(mongo.stop)
            uri = mongo_uri(mongo)
        s3 = moto_server(folder / "moto")
        stack.callback(s3.stop)
        bucket = "musicconnect-e2e"
        boto3.client("s3", endpoint_url=endpoint_url(s3), region_name="us-east-1", **_keys()).create_bucket(
            Bucket=bucket,
        )
        redis = redis_server(folder / "redis")
        stack.callback(redis.stop)
        env = {
            **AWS_ENV,
            "MUSICCONNECT_MONGODB_URI": uri,
            "MUSICCONNECT_MONGODB_DATABASE": f"e2e_{folder.name}",
            "MUSICCONNECT_S3_BUCKET": bucket,
            "MUSICCONNECT_S3_ENDPOINT_URL": endpoint_url(s3),
            "MUSICCONNECT_REDIS_URL": redis_url(redis),
        }
        worker = start_worker(folder, env)
        stack.callback(stop, worker)
        if workers is not None:
            workers.append(worker)
        yield env


def start_worker(folder: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """A ``musicconnect worker`` on ``env``'s backend; its output goes to ``folder/worker.log``
    (appended: a restarted worker's follows the first one's)."""
    log = folder / "worker.log"
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "musicconnect", "worker", "--data-dir", str(folder / "worker-data")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
