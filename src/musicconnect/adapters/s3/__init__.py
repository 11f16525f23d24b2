"""Media in S3 delivered through CloudFront: storage, signed URLs and cookies, and provisioning."""

from musicconnect.adapters.s3.cloudfront import CloudFrontUrlSigner
from musicconnect.adapters.s3.delivery import PlaylistsHereSegmentsOnCdn
from musicconnect.adapters.s3.provision import AwsClients, ProvisionError, ProvisionResult, provision
from musicconnect.adapters.s3.storage import PresignedPost, S3MediaStorage, cache_control_for, make_s3_client

__all__ = [
    "AwsClients",
    "CloudFrontUrlSigner",
    "PlaylistsHereSegmentsOnCdn",
    "PresignedPost",
    "ProvisionError",
    "ProvisionResult",
    "S3MediaStorage",
    "cache_control_for",
    "make_s3_client",
    "provision",
]
