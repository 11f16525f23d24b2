"""The ``musicconnect`` command line: serve, demo, ingest, payouts, worker, live, admin, outbox."""

from __future__ import annotations

import click

from musicconnect.entrypoints.cli.accounts import admin, outbox
from musicconnect.entrypoints.cli.aws import aws
from musicconnect.entrypoints.cli.demo import demo
from musicconnect.entrypoints.cli.live import live
from musicconnect.entrypoints.cli.operations import ingest, payouts, worker
from musicconnect.entrypoints.cli.serve import serve


@click.group()
@click.version_option(package_name="musicconnect")
def main() -> None:
    """Music Connect: artists sell tiers, fans stream at their tier's quality, payouts split 90/10."""


main.add_command(serve)
main.add_command(demo)
main.add_command(ingest)
main.add_command(payouts)
main.add_command(worker)
main.add_command(live)
main.add_command(aws)
main.add_command(admin)
main.add_command(outbox)
