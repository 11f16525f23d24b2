"""Run the Stripe double as a process: ``python -m tests.support.stripe_double --port 12111``."""

from __future__ import annotations

import argparse
import signal
import threading

from tests.support.stripe_double.server import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, StripeDouble


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret", default=DEFAULT_WEBHOOK_SECRET)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with StripeDouble(
        api_key=args.api_key,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        host=args.host,
        port=args.port,
    ) as double:
        print(f"Stripe double on {double.url}", flush=True)  # noqa: T201
        stop.wait()


if __name__ == "__main__":
    main()
