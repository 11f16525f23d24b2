"""One idempotent command for the AWS side of media delivery: bucket, CloudFront distribution, signing keys.

Each resource is looked up first (by name, comment or Sid) and created only when missing, so a
second run changes nothing. ``dry_run`` makes only the look-ups and returns the plan.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import attrs
import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from musicconnect.adapters.s3._aws import aws_config, error_code

ORIGIN_ID: Final = "musicconnect-media"
BUCKET_POLICY_SID: Final = "MusicConnectCloudFrontRead"
LIFECYCLE_RULE_ID: Final = "musicconnect-abort-incomplete-multipart"
PLAYLIST_PATTERN: Final = "*.m3u8"
_PUBLIC_ACCESS_BLOCK: Final = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_ENCRYPTIONS: Final = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
_BUCKET_NAME: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_OAC_NAME_MAX: Final = 64
_NAME_MAX: Final = 128
_MISSING_BUCKET: Final = frozenset({"404", "NoSuchBucket", "NotFound"})


class ProvisionError(Exception):
    """Something exists that provisioning cannot reconcile without a person deciding."""


@attrs.frozen
class CachePolicySpec:
    """TTL bounds in seconds; within them CloudFront follows the objects' Cache-Control."""

    suffix: str
    min_ttl: int
    default_ttl: int
    max_ttl: int
    compress: bool


#: Playlists are small text, re-read every few seconds so a republished ladder appears quickly.
PLAYLIST_CACHE: Final = CachePolicySpec("playlists", min_ttl=0, default_ttl=5, max_ttl=60, compress=True)
#: Segments never change once published: keep them at the edge for a year.
SEGMENT_CACHE: Final = CachePolicySpec(
    "segments", min_ttl=86_400, default_ttl=31_536_000, max_ttl=31_536_000, compress=False
)


class Action(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    EXISTS = "exists"
    WOULD_CREATE = "would create"
    WOULD_UPDATE = "would update"


@attrs.frozen
class ProvisionStep:
    kind: str
    name: str
    action: Action
    resource_id: str | None = None


@attrs.frozen
class AwsClients:
    """The two clients provisioning needs; CloudFront is global and signs in us-east-1."""

    s3: Any
    cloudfront: Any

    @classmethod
    def from_session(
        cls,
        session: Any | None = None,
        *,
        region: str,
        endpoint_url: str | None = None,
    ) -> AwsClients:
        session = session if session is not None else boto3.session.Session()
        return cls(
            s3=session.client(
                "s3",
                region_name=region,
                endpoint_url=endpoint_url,
                config=aws_config(path_style=endpoint_url is not None),
            ),
            cloudfront=session.client(
                "cloudfront", region_name="us-east-1", endpoint_url=endpoint_url, config=aws_config()
            ),
        )


@attrs.frozen
class ProvisionResult:
    dry_run: bool
    bucket: str
    region: str
    steps: tuple[ProvisionStep, ...]
    origin_access_control_id: str | None
    public_key_id: str | None
    key_group_id: str | None
    playlist_cache_policy_id: str | None
    segment_cache_policy_id: str | None
    distribution_id: str | None
    distribution_arn: str | None
    distribution_domain: str | None

    @property
    def changed(self) -> bool:
        return any(step.action is not Action.EXISTS for step in self.steps)

    @property
    def settings(self) -> dict[str, str]:
        """The environment that selects S3 + CloudFront; values a dry run cannot know are left out."""
        values = {
            "MUSICCONNECT_S3_BUCKET": self.bucket,
            "AWS_DEFAULT_REGION": self.region,
            "MUSICCONNECT_CLOUDFRONT_DOMAIN": self.distribution_domain,
            "MUSICCONNECT_CLOUDFRONT_KEY_ID": self.public_key_id,
        }
        return {name: value for name, value in values.items() if value is not None}


def provision(
    session_or_clients: AwsClients | Any,
    *,
    bucket: str,
    region: str,
    domain_comment: str,
    public_key_pem: bytes,
    dry_run: bool = False,
) -> ProvisionResult:
    """Create whatever is missing of the media bucket and its CloudFront distribution; see the module doc."""
    if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise ValueError(f"not a valid S3 bucket name: {bucket!r}")
    if not domain_comment or len(domain_comment) > _NAME_MAX:
        raise ValueError("the distribution comment must be 1 to 128 characters")
    clients = (
        session_or_clients
        if isinstance(session_or_clients, AwsClients)
        else AwsClients.from_session(session_or_clients, region=region)
    )
    return _Provisioner(clients, bucket=bucket, region=region, dry_run=dry_run).run(
        comment=domain_comment, public_key_pem=_canonical_public_key(public_key_pem)
    )


def _canonical_public_key(pem: bytes) -> bytes:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:  # noqa: PLR2004 - CloudFront's only size
        raise ValueError("CloudFront key groups take 2048-bit RSA public keys")
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _cloudfront_items(call: Callable[..., Any], list_key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item of a CloudFront List* call, following NextMarker."""
    marker: str | None = None
    while True:
        page = call(**kwargs, **({"Marker": marker} if marker else {}))[list_key]
        yield from page.get("Items") or []
        marker = page.get("NextMarker")
        if not marker:
            return


class _Provisioner:
    def __init__(self, clients: AwsClients, *, bucket: str, region: str, dry_run: bool) -> None:
        self._s3 = clients.s3
        self._cf = clients.cloudfront
        self._bucket = bucket
        self._region = region
        self._dry_run = dry_run
        self._base = re.sub(r"[^A-Za-z0-9_-]", "-", bucket)
        self._steps: list[ProvisionStep] = []

    def run(self, *, comment: str, public_key_pem: bytes) -> ProvisionResult:
        bucket_ready = self._ensure_bucket()
        self._ensure_public_access_block(bucket_ready=bucket_ready)
        self._ensure_encryption(bucket_ready=bucket_ready)
        self._ensure_multipart_cleanup(bucket_ready=bucket_ready)
        oac_id = self._ensure_origin_access_control()
        key_id = self._ensure_public_key(public_key_pem)
        group_id = self._ensure_key_group(key_id)
        playlist_id = self._ensure_cache_policy(PLAYLIST_CACHE)
        segment_id = self._ensure_cache_policy(SEGMENT_CACHE)
        distribution = self._ensure_distribution(
            comment=comment, oac_id=oac_id, group_id=group_id, playlist_id=playlist_id, segment_id=segment_id
        )
        arn = distribution.get("ARN") if distribution else None
        self._ensure_bucket_policy(arn, bucket_ready=bucket_ready)
        return ProvisionResult(
            dry_run=self._dry_run,
            bucket=self._bucket,
            region=self._region,
            steps=tuple(self._steps),
            origin_access_control_id=oac_id,
            public_key_id=key_id,
            key_group_id=group_id,
            playlist_cache_policy_id=playlist_id,
            segment_cache_policy_id=segment_id,
            distribution_id=distribution.get("Id") if distribution else None,
            distribution_arn=arn,
            distribution_domain=distribution.get("DomainName") if distribution else None,
        )

    # --- recording ------------------------------------------------------------------------------

    def _found(self, kind: str, name: str, resource_id: str | None = None) -> None:
        self._steps.append(ProvisionStep(kind, name, Action.EXISTS, resource_id))

    def _change(
        self, kind: str, name: str, make: Callable[[], str | None], *, update: bool = False
    ) -> str | None:
        """Run ``make`` (a mutating call) unless this is a dry run; record what was or would be done."""
        if self._dry_run:
            self._steps.append(
                ProvisionStep(kind, name, Action.WOULD_UPDATE if update else Action.WOULD_CREATE)
            )
            return None
        resource_id = make()
        self._steps.append(
            ProvisionStep(kind, name, Action.UPDATED if update else Action.CREATED, resource_id)
        )
        return resource_id

    # --- the bucket -----------------------------------------------------------------------------

    def _ensure_bucket(self) -> bool:
        """Whether the bucket exists now (false only in a dry run that would create it)."""
        try:
            self._s3.head_bucket(Bucket=self._bucket)
        except ClientError as error:
            if error_code(error) not in _MISSING_BUCKET:
                raise ProvisionError(
                    f"bucket {self._bucket} exists but is not yours, or you may not read it "
                    f"({error_code(error)})"
                ) from error
        else:
            self._found("S3 bucket", self._bucket, self._bucket)
            return True

        def create() -> str:
            location = (
                {}
                if self._region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": self._region}}
            )
            self._s3.create_bucket(Bucket=self._bucket, **location)
            return self._bucket

        self._change("S3 bucket", self._bucket, create)
        return not self._dry_run

    def _read(self, call: Callable[..., Any], missing_code: str, *, bucket_ready: bool) -> Any | None:
        if not bucket_ready:
            return None
        try:
            return call(Bucket=self._bucket)
        except ClientError as error:
            if error_code(error) == missing_code:
                return None
            raise

    def _ensure_public_access_block(self, *, bucket_ready: bool) -> None:
        current = self._read(
            self._s3.get_public_access_block,
            "NoSuchPublicAccessBlockConfiguration",
            bucket_ready=bucket_ready,
        )
        name = f"{self._bucket} public access block"
        if current is not None and current["PublicAccessBlockConfiguration"] == _PUBLIC_ACCESS_BLOCK:
            self._found("S3 public access block", name)
            return

        def put() -> None:
            self._s3.put_public_access_block(
                Bucket=self._bucket, PublicAccessBlockConfiguration=dict(_PUBLIC_ACCESS_BLOCK)
            )

        self._change("S3 public access block", name, put, update=current is not None)

    def _ensure_encryption(self, *, bucket_ready: bool) -> None:
        current = self._read(
            self._s3.get_bucket_encryption,
            "ServerSideEncryptionConfigurationNotFoundError",
            bucket_ready=bucket_ready,
        )
        rules = current["ServerSideEncryptionConfiguration"]["Rules"] if current else []
        algorithms = {
            rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in rules
        }
        name = f"{self._bucket} default encryption"
        if algorithms & _ENCRYPTIONS:
            self._found("S3 default encryption", name)
            return

        def put() -> None:
            self._s3.put_bucket_encryption(
                Bucket=self._bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )

        self._change("S3 default encryption", name, put)

    def _ensure_multipart_cleanup(self, *, bucket_ready: bool) -> None:
        """A lifecycle rule that aborts multipart uploads a killed writer left behind, after a day."""
        current = self._read(
            self._s3.get_bucket_lifecycle_configuration,
            "NoSuchLifecycleConfiguration",
            bucket_ready=bucket_ready,
        )
        rules = list(current["Rules"]) if current else []
        if any(rule.get("ID") == LIFECYCLE_RULE_ID for rule in rules):
            self._found("S3 lifecycle rule", LIFECYCLE_RULE_ID)
            return
        ours = {
            "ID": LIFECYCLE_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }

        def put() -> None:
            self._s3.put_bucket_lifecycle_configuration(
                Bucket=self._bucket, LifecycleConfiguration={"Rules": [*rules, ours]}
            )

        self._change("S3 lifecycle rule", LIFECYCLE_RULE_ID, put, update=bool(rules))

    def _ensure_bucket_policy(self, distribution_arn: str | None, *, bucket_ready: bool) -> None:
        current = self._read(self._s3.get_bucket_policy, "NoSuchBucketPolicy", bucket_ready=bucket_ready)
        statements: list[Any] = json.loads(current["Policy"])["Statement"] if current else []
        ours = [s for s in statements if s.get("Sid") == BUCKET_POLICY_SID]
        name = f"{self._bucket} policy: GetObject for the distribution only"
        if distribution_arn is not None:
            wanted = bucket_policy_statement(self._bucket, distribution_arn)
            if ours == [wanted]:
                self._found("S3 bucket policy", name)
                return
        others = [s for s in statements if s.get("Sid") != BUCKET_POLICY_SID]

        def put() -> None:
            assert distribution_arn is not None  # noqa: S101 - only a dry run lacks it, and it never gets here
            policy = {
                "Version": "2012-10-17",
                "Statement": [*others, bucket_policy_statement(self._bucket, distribution_arn)],
            }
            self._s3.put_bucket_policy(Bucket=self._bucket, Policy=json.dumps(policy))

        self._change("S3 bucket policy", name, put, update=current is not None)

    # --- CloudFront -----------------------------------------------------------------------------

    def _ensure_origin_access_control(self) -> str | None:
        name = f"{self._base}-oac"[:_OAC_NAME_MAX]
        for item in _cloudfront_items(self._cf.list_origin_access_controls, "OriginAccessControlList"):
            if item["Name"] == name:
                self._found("CloudFront origin access control", name, item["Id"])
                return str(item["Id"])

        def create() -> str:
            response = self._cf.create_origin_access_control(
                OriginAccessControlConfig={
                    "Name": name,
                    "Description": f"musicconnect: CloudFront reads s3://{self._bucket}",
                    "SigningProtocol": "sigv4",
                    "SigningBehavior": "always",
                    "OriginAccessControlOriginType": "s3",
                }
            )
            return str(response["OriginAccessControl"]["Id"])

        return self._change("CloudFront origin access control", name, create)

    def _ensure_public_key(self, pem: bytes) -> str | None:
        der = serialization.load_pem_public_key(pem).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # The name carries the key's fingerprint: a new key is a new public key (rotation), never a clash.
        name = f"{self._base}-{hashlib.sha256(der).hexdigest()[:16]}"[:_NAME_MAX]
        for item in _cloudfront_items(self._cf.list_public_keys, "PublicKeyList"):
            if item["Name"] == name:
                self._found("CloudFront public key", name, item["Id"])
                return str(item["Id"])

        def create() -> str:
            response = self._cf.create_public_key(
                PublicKeyConfig={
                    "CallerReference": name,
                    "Name": name,
                    "EncodedKey": pem.decode("ascii"),
                    "Comment": f"musicconnect URL signing for {self._bucket}",
                }
            )
            return str(response["PublicKey"]["Id"])

        return self._change("CloudFront public key", name, create)

    def _ensure_key_group(self, public_key_id: str | None) -> str | None:
        name = f"{self._base}-signers"[:_NAME_MAX]
        for item in _cloudfront_items(self._cf.list_key_groups, "KeyGroupList"):
            group = item["KeyGroup"]
            if group["KeyGroupConfig"]["Name"] == name:
                if public_key_id not in group["KeyGroupConfig"]["Items"]:
                    raise ProvisionError(
                        f"key group {name} ({group['Id']}) does not hold this public key: to rotate keys, "
                        "add the new public key to the group in CloudFront, then run provision again"
                    )
                self._found("CloudFront key group", name, group["Id"])
                return str(group["Id"])

        def create() -> str:
            response = self._cf.create_key_group(
                KeyGroupConfig={
                    "Name": name,
                    "Items": [public_key_id],
                    "Comment": f"keys that sign musicconnect media URLs for {self._bucket}",
                }
            )
            return str(response["KeyGroup"]["Id"])

        return self._change("CloudFront key group", name, create)

    def _ensure_cache_policy(self, spec: CachePolicySpec) -> str | None:
        name = f"{self._base}-{spec.suffix}"[:_NAME_MAX]
        for item in _cloudfront_items(self._cf.list_cache_policies, "CachePolicyList", Type="custom"):
            policy = item["CachePolicy"]
            if policy["CachePolicyConfig"]["Name"] == name:
                self._found("CloudFront cache policy", name, policy["Id"])
                return str(policy["Id"])

        def create() -> str:
            response = self._cf.create_cache_policy(CachePolicyConfig=cache_policy_config(name, spec))
            return str(response["CachePolicy"]["Id"])

        return self._change("CloudFront cache policy", name, create)

    def _ensure_distribution(
        self,
        *,
        comment: str,
        oac_id: str | None,
        group_id: str | None,
        playlist_id: str | None,
        segment_id: str | None,
    ) -> dict[str, Any] | None:
        origin_domain = self.origin_domain
        for item in _cloudfront_items(self._cf.list_distributions, "DistributionList"):
            if item["Comment"] == comment:
                domains = {origin["DomainName"] for origin in item["Origins"].get("Items") or []}
                if origin_domain not in domains:
                    raise ProvisionError(
                        f"distribution {item['Id']} has the comment {comment!r} but serves {sorted(domains)}"
                    )
                self._found("CloudFront distribution", comment, item["Id"])
                return dict(item)
        created: dict[str, Any] = {}

        def create() -> str:
            # Every id was created (or found) just before; only a dry run lacks them, and it never calls this.
            assert oac_id is not None  # noqa: S101
            assert group_id is not None  # noqa: S101
            assert playlist_id is not None  # noqa: S101
            assert segment_id is not None  # noqa: S101
            response = self._cf.create_distribution(
                DistributionConfig=distribution_config(
                    caller_reference=f"musicconnect-{self._base}",
                    comment=comment,
                    origin_domain=origin_domain,
                    oac_id=oac_id,
                    key_group_id=group_id,
                    playlist_policy_id=playlist_id,
                    segment_policy_id=segment_id,
                )
            )
            created.update(response["Distribution"])
            return str(response["Distribution"]["Id"])

        self._change("CloudFront distribution", comment, create)
        return created or None

    @property
    def origin_domain(self) -> str:
        return f"{self._bucket}.s3.{self._region}.amazonaws.com"


def bucket_policy_statement(bucket: str, distribution_arn: str) -> dict[str, Any]:
    """Let exactly this distribution (through its origin access control) read objects."""
    return {
        "Sid": BUCKET_POLICY_SID,
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


def cache_policy_config(name: str, spec: CachePolicySpec) -> dict[str, Any]:
    # Neither query strings (the signature) nor cookies (signed cookies) belong in the cache key:
    # CloudFront checks them before the cache, and every listener shares one cached segment.
    return {
        "Name": name,
        "Comment": f"musicconnect {spec.suffix}",
        "MinTTL": spec.min_ttl,
        "DefaultTTL": spec.default_ttl,
        "MaxTTL": spec.max_ttl,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": spec.compress,
            "EnableAcceptEncodingBrotli": spec.compress,
            "HeadersConfig": {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"},
            "QueryStringsConfig": {"QueryStringBehavior": "none"},
        },
    }


def distribution_config(
    *,
    caller_reference: str,
    comment: str,
    origin_domain: str,
    oac_id: str,
    key_group_id: str,
    playlist_policy_id: str,
    segment_policy_id: str,
) -> dict[str, Any]:
    """HTTPS only, GET/HEAD only, every request signed by a key of the group; playlists cached briefly."""

    def behaviour(cache_policy_id: str, *, compress: bool) -> dict[str, Any]:
        return {
            "TargetOriginId": ORIGIN_ID,
            "ViewerProtocolPolicy": "https-only",
            "TrustedKeyGroups": {"Enabled": True, "Quantity": 1, "Items": [key_group_id]},
            "AllowedMethods": {
                "Quantity": 2,
                "Items": ["GET", "HEAD"],
                "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
            },
            "CachePolicyId": cache_policy_id,
            "Compress": compress,
        }

    return {
        "CallerReference": caller_reference,
        "Comment": comment,
        "Enabled": True,
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": ORIGIN_ID,
                    "DomainName": origin_domain,
                    "OriginPath": "",
                    # With an origin access control the legacy identity stays empty.
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac_id,
                }
            ],
        },
        "DefaultCacheBehavior": behaviour(segment_policy_id, compress=False),
        "CacheBehaviors": {
            "Quantity": 1,
            "Items": [{"PathPattern": PLAYLIST_PATTERN, **behaviour(playlist_policy_id, compress=True)}],
        },
    }
