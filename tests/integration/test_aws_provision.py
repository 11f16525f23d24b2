"""``provision`` and ``musicconnect aws provision`` against moto in server mode, run twice and read back.

moto 5.2 serves S3 and most of CloudFront but has no cache-policy API (ListCachePolicies answers
404), and it drops ``OriginAccessControlId`` from the distribution it stores. So:
- ``CachePolicyStub`` answers Create/Get/ListCachePolicies in memory, after botocore has serialised
  and validated each request against AWS's own API model;
- the distribution's origin access control is checked on the CreateDistribution request as sent.
Everything else is read back from moto.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import boto3
import pytest
from botocore.awsrequest import AWSResponse
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from musicconnect.adapters.s3 import AwsClients, ProvisionError, ProvisionResult, provision
from musicconnect.adapters.s3.provision import (
    BUCKET_POLICY_SID,
    LIFECYCLE_RULE_ID,
    PLAYLIST_CACHE,
    SEGMENT_CACHE,
    Action,
)
from musicconnect.entrypoints.cli.aws import AwsClientFactory, aws
from tests.support.moto_s3 import endpoint_url, moto_server

pytestmark = pytest.mark.integration

REGION = "us-east-1"
_MUTATING = ("Create", "Put", "Update", "Delete", "Abort", "Tag", "Untag", "Associate")


@functools.cache
def _public_pem(index: int) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@functools.cache
def _session() -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


class CachePolicyStub:
    """CloudFront cache policies kept in memory, for the three calls moto does not serve."""

    def __init__(self) -> None:
        self.policies: dict[str, dict[str, Any]] = {}
        self._params: dict[str, dict[str, Any]] = {}

    def install(self, client: Any) -> None:
        events = client.meta.events
        for operation, answer in (
            ("CreateCachePolicy", self._create),
            ("GetCachePolicy", self._get),
            ("ListCachePolicies", self._list),
        ):
            events.register(f"before-parameter-build.cloudfront.{operation}", self._remember)
            events.register(f"before-call.cloudfront.{operation}", answer)

    def _remember(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._params[model.name] = dict(params)

    @staticmethod
    def _reply(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
        parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status})
        return AWSResponse("https://cloudfront.amazonaws.com/", status, {}, None), parsed

    def _create(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        config = self._params["CreateCachePolicy"]["CachePolicyConfig"]
        if any(p["CachePolicyConfig"]["Name"] == config["Name"] for p in self.policies.values()):
            return self._reply(
                409, {"Error": {"Code": "CachePolicyAlreadyExists", "Message": config["Name"]}}
            )
        policy_id = str(uuid.uuid4())
        self.policies[policy_id] = {"Id": policy_id, "CachePolicyConfig": config}
        return self._reply(201, {"CachePolicy": self.policies[policy_id], "ETag": "E1"})

    def _get(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        policy = self.policies.get(self._params["GetCachePolicy"]["Id"])
        if policy is None:
            return self._reply(404, {"Error": {"Code": "NoSuchCachePolicy", "Message": "no such policy"}})
        return self._reply(200, {"CachePolicy": policy, "ETag": "E1"})

    def _list(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        items = [{"Type": "custom", "CachePolicy": policy} for policy in self.policies.values()]
        return self._reply(
            200, {"CachePolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}}
        )


class Recorder:
    """Every operation the clients are asked to make, and the parameters of some."""

    def __init__(self, clients: AwsClients) -> None:
        self.operations: list[str] = []
        self.sent: dict[str, dict[str, Any]] = {}
        for client in (clients.s3, clients.cloudfront):
            client.meta.events.register("before-parameter-build", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.operations.append(model.name)
        self.sent[model.name] = json.loads(json.dumps(params, default=str))

    @property
    def mutating(self) -> list[str]:
        return [name for name in self.operations if name.startswith(_MUTATING)]


class Account:
    """One moto server standing in for an AWS account, with the cache policies moto lacks."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.cache_policies = CachePolicyStub()

    def clients(self) -> tuple[AwsClients, Recorder]:
        clients = AwsClients.from_session(_session(), region=REGION, endpoint_url=self.endpoint)
        self.cache_policies.install(clients.cloudfront)
        return clients, Recorder(clients)

    def make(self, region: str, endpoint: str | None) -> AwsClients:
        assert (region, endpoint) == (REGION, self.endpoint)
        return self.clients()[0]


def _start_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    server = moto_server(tmp_path_factory.mktemp("moto-aws"))
    try:
        yield Account(endpoint_url(server))
    finally:
        server.stop()


@pytest.fixture(scope="session")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    yield from _start_account(tmp_path_factory)


@pytest.fixture
def fresh_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    """An account nothing has touched yet: its own moto server."""
    yield from _start_account(tmp_path_factory)


def _bucket() -> str:
    return f"mc-media-{uuid.uuid4().hex[:16]}"


def _run(
    account: Account, bucket: str, *, key: int = 0, dry_run: bool = False
) -> tuple[ProvisionResult, Recorder]:
    clients, recorder = account.clients()
    result = provision(
        clients,
        bucket=bucket,
        region=REGION,
        domain_comment=f"musicconnect media {bucket}",
        public_key_pem=_public_pem(key),
        dry_run=dry_run,
    )
    return result, recorder


@pytest.fixture(scope="session")
def provisioned(account: Account) -> tuple[str, ProvisionResult, Recorder]:
    """One real run on a new bucket, shared by the read-back tests."""
    bucket = _bucket()
    result, recorder = _run(account, bucket)
    return bucket, result, recorder


KINDS = [
    "S3 bucket",
    "S3 public access block",
    "S3 default encryption",
    "S3 lifecycle rule",
    "CloudFront origin access control",
    "CloudFront public key",
    "CloudFront key group",
    "CloudFront cache policy",
    "CloudFront cache policy",
    "CloudFront distribution",
    "S3 bucket policy",
]


# --- idempotence ---------------------------------------------------------------------------------


def test_the_first_run_creates_every_resource(provisioned: tuple[str, ProvisionResult, Recorder]) -> None:
    """A new bucket gets every resource created, in dependency order, and settings to use."""
    bucket, result, recorder = provisioned
    assert [step.kind for step in result.steps] == KINDS
    assert {step.action for step in result.steps} == {Action.CREATED}
    assert result.changed
    assert set(recorder.mutating) >= {
        "CreateBucket",
        "CreateOriginAccessControl",
        "CreatePublicKey",
        "CreateKeyGroup",
        "CreateCachePolicy",
        "CreateDistribution",
        "PutBucketPolicy",
    }
    assert result.settings == {
        "MUSICCONNECT_S3_BUCKET": bucket,
        "AWS_DEFAULT_REGION": REGION,
        "MUSICCONNECT_CLOUDFRONT_DOMAIN": result.distribution_domain,
        "MUSICCONNECT_CLOUDFRONT_KEY_ID": result.public_key_id,
    }
    assert result.distribution_domain
    assert result.distribution_domain.endswith(".cloudfront.net")


def test_a_second_run_finds_everything_and_changes_nothing(
    account: Account, provisioned: tuple[str, ProvisionResult, Recorder]
) -> None:
    """Run again: the same ids and settings, every step 'exists', and not one mutating call."""
    bucket, first, _ = provisioned
    again, recorder = _run(account, bucket)
    assert [step.kind for step in again.steps] == KINDS
    assert {step.action for step in again.steps} == {Action.EXISTS}
    assert not again.changed
    assert recorder.mutating == []
    assert attrs_without_steps(again) == attrs_without_steps(first)
    assert [step.resource_id for step in again.steps] == [step.resource_id for step in first.steps]


def attrs_without_steps(result: ProvisionResult) -> dict[str, Any]:
    return {name: value for name, value in attrs.asdict(result).items() if name != "steps"}


def test_a_dry_run_after_provisioning_reports_all_present(
    account: Account, provisioned: tuple[str, ProvisionResult, Recorder]
) -> None:
    """A dry run over provisioned resources says 'exists' for each and knows every setting."""
    bucket, first, _ = provisioned
    plan, recorder = _run(account, bucket, dry_run=True)
    assert {step.action for step in plan.steps} == {Action.EXISTS}
    assert plan.settings == first.settings
    assert recorder.mutating == []


def test_a_dry_run_on_a_fresh_account_creates_nothing(fresh_account: Account) -> None:
    """On an empty account the plan is 'would create' for each resource, and no mutating call is made."""
    bucket = _bucket()
    plan, recorder = _run(fresh_account, bucket, dry_run=True)
    assert [step.kind for step in plan.steps] == KINDS
    assert {step.action for step in plan.steps} == {Action.WOULD_CREATE}
    assert recorder.mutating == []
    assert plan.settings == {"MUSICCONNECT_S3_BUCKET": bucket, "AWS_DEFAULT_REGION": REGION}
    clients, _ = fresh_account.clients()
    assert clients.s3.list_buckets()["Buckets"] == []
    cf = clients.cloudfront
    assert cf.list_distributions()["DistributionList"].get("Items", []) == []
    assert cf.list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == []
    assert cf.list_public_keys()["PublicKeyList"].get("Items", []) == []
    assert cf.list_key_groups()["KeyGroupList"].get("Items", []) == []
    assert fresh_account.cache_policies.policies == {}


def test_a_new_signing_key_is_not_swapped_in_silently(
    account: Account, provisioned: tuple[str, Any, Any]
) -> None:
    """Provisioning with another public key stops at the key group and says how to rotate."""
    bucket, _, _ = provisioned
    with pytest.raises(ProvisionError, match="rotate"):
        _run(account, bucket, key=1)


# --- read back every resource --------------------------------------------------------------------


@pytest.fixture
def readback(
    account: Account, provisioned: tuple[str, ProvisionResult, Recorder]
) -> tuple[str, ProvisionResult, Any]:
    bucket, result, _ = provisioned
    clients, _ = account.clients()
    return bucket, result, clients


def test_the_bucket_blocks_public_access_and_encrypts_by_default(
    readback: tuple[str, ProvisionResult, Any],
) -> None:
    """All four public-access blocks on, SSE-S3 by default, and a rule that aborts stale multipart uploads."""
    bucket, _, clients = readback
    block = clients.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = clients.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (lifecycle,) = clients.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle["ID"] == LIFECYCLE_RULE_ID
    assert lifecycle["Status"] == "Enabled"
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_the_bucket_policy_lets_only_the_distribution_read(
    readback: tuple[str, ProvisionResult, Any],
) -> None:
    """One statement: the CloudFront service may GetObject, on condition it is this distribution."""
    bucket, result, clients = readback
    policy = json.loads(clients.s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (statement,) = policy["Statement"]
    assert statement == {
        "Sid": BUCKET_POLICY_SID,
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": result.distribution_arn}},
    }
    assert (
        result.distribution_arn == f"arn:aws:cloudfront::123456789012:distribution/{result.distribution_id}"
    )


def test_the_origin_access_control_signs_every_s3_request(readback: tuple[str, ProvisionResult, Any]) -> None:
    """The OAC is for S3, signs with SigV4, always."""
    _, result, clients = readback
    oac = clients.cloudfront.get_origin_access_control(Id=result.origin_access_control_id)
    config = oac["OriginAccessControl"]["OriginAccessControlConfig"]
    assert (
        config["SigningProtocol"],
        config["SigningBehavior"],
        config["OriginAccessControlOriginType"],
    ) == (
        "sigv4",
        "always",
        "s3",
    )


def test_the_public_key_and_key_group_hold_the_signing_key(
    readback: tuple[str, ProvisionResult, Any],
) -> None:
    """The stored public key is the PEM given, and the key group trusts exactly that key."""
    _, result, clients = readback
    key = clients.cloudfront.get_public_key(Id=result.public_key_id)["PublicKey"]["PublicKeyConfig"]
    assert key["EncodedKey"].encode() == _public_pem(0)
    group = clients.cloudfront.get_key_group(Id=result.key_group_id)["KeyGroup"]["KeyGroupConfig"]
    assert group["Items"] == [result.public_key_id]


def test_cache_policies_keep_playlists_briefly_and_segments_for_a_year(
    readback: tuple[str, ProvisionResult, Any],
) -> None:
    """Playlists live 0..60 s (default 5), segments a day to a year; no query string or cookie in the key."""
    _, result, clients = readback
    for policy_id, spec in (
        (result.playlist_cache_policy_id, PLAYLIST_CACHE),
        (result.segment_cache_policy_id, SEGMENT_CACHE),
    ):
        config = clients.cloudfront.get_cache_policy(Id=policy_id)["CachePolicy"]["CachePolicyConfig"]
        assert (config["MinTTL"], config["DefaultTTL"], config["MaxTTL"]) == (
            spec.min_ttl,
            spec.default_ttl,
            spec.max_ttl,
        )
        key = config["ParametersInCacheKeyAndForwardedToOrigin"]
        assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
        assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert PLAYLIST_CACHE.default_ttl <= 10
    assert SEGMENT_CACHE.min_ttl >= 86_400
    assert SEGMENT_CACHE.default_ttl == 31_536_000


def test_the_distribution_serves_the_bucket_through_the_oac_to_signed_requests_only(
    readback: tuple[str, ProvisionResult, Any], provisioned: tuple[str, ProvisionResult, Recorder]
) -> None:
    """Origin: the bucket via the OAC; each behaviour needs the key group; *.m3u8 has the playlist policy."""
    bucket, result, clients = readback
    config = clients.cloudfront.get_distribution_config(Id=result.distribution_id)["DistributionConfig"]
    assert config["Comment"] == f"musicconnect media {bucket}"
    assert config["Enabled"] is True
    (origin,) = config["Origins"]["Items"]
    assert origin["DomainName"] == f"{bucket}.s3.{REGION}.amazonaws.com"
    default = config["DefaultCacheBehavior"]
    (playlists,) = config["CacheBehaviors"]["Items"]
    assert playlists["PathPattern"] == "*.m3u8"
    assert playlists["CachePolicyId"] == result.playlist_cache_policy_id
    assert default["CachePolicyId"] == result.segment_cache_policy_id
    for behaviour in (default, playlists):
        assert behaviour["TargetOriginId"] == origin["Id"]
        assert behaviour["TrustedKeyGroups"] == {
            "Enabled": True,
            "Quantity": 1,
            "Items": [result.key_group_id],
        }
        assert behaviour["ViewerProtocolPolicy"] == "https-only"
        assert sorted(behaviour["AllowedMethods"]["Items"]) == ["GET", "HEAD"]
    # moto does not keep OriginAccessControlId: check it on the request as botocore sent it.
    _, _, recorder = provisioned
    (sent_origin,) = recorder.sent["CreateDistribution"]["DistributionConfig"]["Origins"]["Items"]
    assert sent_origin["OriginAccessControlId"] == result.origin_access_control_id
    assert sent_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


# --- the command line ----------------------------------------------------------------------------


def test_the_cli_provisions_prints_the_settings_and_is_idempotent(account: Account, tmp_path: Path) -> None:
    """`aws provision` prints a table and the exports; a second run reports every resource as existing."""
    key_file = tmp_path / "cloudfront-public.pem"
    key_file.write_bytes(_public_pem(0))
    bucket = _bucket()
    args = [
        "provision",
        "--bucket",
        bucket,
        "--public-key-file",
        str(key_file),
        "--endpoint-url",
        account.endpoint,
    ]
    runner = CliRunner()
    factory = AwsClientFactory(make=account.make)

    plan = runner.invoke(aws, [*args, "--dry-run"], obj=factory)
    assert plan.exit_code == 0, plan.output
    assert "would create" in plan.output
    assert "export" not in plan.output

    first = runner.invoke(aws, args, obj=factory)
    assert first.exit_code == 0, first.output
    assert f"export MUSICCONNECT_S3_BUCKET={bucket}" in first.output
    assert "export MUSICCONNECT_CLOUDFRONT_DOMAIN=" in first.output
    assert "export MUSICCONNECT_CLOUDFRONT_KEY_ID=" in first.output
    assert "created" in first.output

    second = runner.invoke(aws, args, obj=factory)
    assert second.exit_code == 0, second.output
    assert "created" not in second.output
    exports = [line for line in first.output.splitlines() if line.startswith("export")]
    assert exports == [line for line in second.output.splitlines() if line.startswith("export")]


def test_the_cli_explains_a_refusal(account: Account, tmp_path: Path) -> None:
    """A key CloudFront cannot take is a clean error message, not a traceback."""
    key_file = tmp_path / "small.pem"
    key_file.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    result = CliRunner().invoke(
        aws,
        [
            "provision",
            "--bucket",
            _bucket(),
            "--public-key-file",
            str(key_file),
            "--endpoint-url",
            account.endpoint,
        ],
        obj=AwsClientFactory(make=account.make),
    )
    assert result.exit_code == 1
    assert "2048-bit RSA" in result.output
