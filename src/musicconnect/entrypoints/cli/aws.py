"""``musicconnect aws``: set up the AWS side of media delivery (S3 bucket behind CloudFront)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from musicconnect.adapters.s3 import AwsClients, ProvisionError, ProvisionResult, provision


@attrs.frozen
class AwsClientFactory:
    """Makes the clients ``provision`` uses from (region, endpoint URL).

    Tests hand one in as the click context object (``invoke(..., obj=AwsClientFactory(...))``),
    the CLI's counterpart of passing adapters to bootstrap.
    """

    make: Callable[[str, str | None], AwsClients]


def _default_clients(region: str, endpoint_url: str | None) -> AwsClients:
    return AwsClients.from_session(region=region, endpoint_url=endpoint_url)


@click.group()
def aws() -> None:
    """AWS resources for S3 media storage and CloudFront signed delivery."""


@aws.command("provision")
@click.option("--bucket", required=True, help="The media bucket; created with public access blocked.")
@click.option(
    "--region", default="us-east-1", show_default=True, envvar="AWS_REGION", help="The bucket's region."
)
@click.option(
    "--public-key-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM of the 2048-bit RSA public key whose private half signs media URLs.",
)
@click.option(
    "--comment", default=None, help="Finds the distribution again (default: 'musicconnect media <bucket>')."
)
@click.option("--endpoint-url", default=None, help="An S3/CloudFront-compatible endpoint (tests, moto).")
@click.option("--dry-run", is_flag=True, help="Only look: print what would be created.")
@click.pass_context
def provision_command(
    ctx: click.Context,
    bucket: str,
    region: str,
    public_key_file: Path,
    comment: str | None,
    endpoint_url: str | None,
    dry_run: bool,
) -> None:
    """Create, idempotently, the bucket, origin access control, key group, cache policies and distribution."""
    factory = ctx.find_object(AwsClientFactory)
    make = factory.make if factory is not None else _default_clients
    try:
        result = provision(
            make(region, endpoint_url),
            bucket=bucket,
            region=region,
            domain_comment=comment or f"musicconnect media {bucket}",
            public_key_pem=public_key_file.read_bytes(),
            dry_run=dry_run,
        )
    except (ProvisionError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    except (ClientError, BotoCoreError) as error:
        raise click.ClickException(f"AWS refused: {error}") from error
    _report(result, Console())


def _report(result: ProvisionResult, console: Console) -> None:
    table = Table(title="dry run: nothing was changed" if result.dry_run else "AWS resources")
    for column in ("action", "resource", "name", "id"):
        table.add_column(column)
    for step in result.steps:
        table.add_row(str(step.action), step.kind, step.name, step.resource_id or "")
    console.print(table)
    if result.dry_run:
        click.echo("Run again without --dry-run to create what is missing.")
        return
    click.echo("Set these for `musicconnect serve` and the workers:")
    for name, value in result.settings.items():
        click.echo(f"export {name}={value}")
    click.echo("export MUSICCONNECT_CLOUDFRONT_PRIVATE_KEY_FILE=<the private key matching --public-key-file>")
