"""CloudFront signed URLs and cookies whose custom policy grants one rung of one track, and nothing above.

A signed URL for ``/media/{track}/{kbps}k/{file}`` carries a policy whose Resource is
``https://{domain}/media/{track}/{kbps}k/*?sub={subject}``: every file of that rung folder, and
nothing in the track's other rungs or above it. CloudFront checks the policy at the edge; the
subject is bound by the same Resource pattern (the ``sub`` query parameter must be the one signed),
since a CloudFront policy cannot carry claims of its own. Paths outside a rung folder get an exact
Resource instead.

Players resolve segment URIs relative to the variant playlist and drop its query string, so a
playlist served by the CDN needs either signed cookies (``signed_cookies``: a rung folder, without
a ``sub`` parameter) or segment URIs signed one by one. The product does the second: the API
serves variant playlists and signs each segment URI here (``delivery.PlaylistsHereSegmentsOnCdn``).

``verify`` does what CloudFront does with such a URL (RSA-SHA1 signature, expiry, Resource match),
for tests and for the API's own optional checks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from botocore.signers import CloudFrontSigner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from musicconnect.domain.clocks import require_aware
from musicconnect.domain.errors import InvalidInput, SignatureInvalid, UrlExpired

#: CloudFront accepts only 2048-bit RSA keys for trusted key groups.
MIN_KEY_BITS: Final = 2048
#: The folder a rung's playlist and segments live in (``rung_folder``): ``128k``, ``320k``, ...
_RUNG_FOLDER: Final = re.compile(r"[0-9]+k")
_SUBJECT_PARAM: Final = "sub"
_URL_PARAMS: Final = ("Policy", "Signature", "Key-Pair-Id")
#: The names CloudFront reads signed cookies from.
COOKIE_NAMES: Final = ("CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id")
#: Signed policies remembered for reuse; each is one listener's grant of one rung until one instant.
_MAX_REMEMBERED_GRANTS: Final = 4096
_FROM_SAFE: Final = bytes.maketrans(b"-_~", b"+=/")
_TO_SAFE: Final = bytes.maketrans(b"+=/", b"-_~")


def cloudfront_b64encode(data: bytes) -> str:
    """Base64 with CloudFront's URL-safe substitutions (``+=/`` become ``-_~``)."""
    return base64.b64encode(data).translate(_TO_SAFE).decode("ascii")


def cloudfront_b64decode(text: str) -> bytes:
    """The inverse of ``cloudfront_b64encode``; only its exact output decodes (ValueError otherwise)."""
    try:
        raw = base64.b64decode(text.encode("ascii").translate(_FROM_SAFE), validate=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise ValueError("not CloudFront base64") from error
    # One spelling per value: spare bits or other padding must not pass for the signed text.
    if cloudfront_b64encode(raw) != text:
        raise ValueError("not canonical CloudFront base64")
    return raw


def resource_matches(pattern: str, url: str) -> bool:
    """Whether a policy Resource covers ``url``, with CloudFront's wildcards: ``*`` any run, ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, url, flags=re.DOTALL) is not None


def _normalise_domain(domain: str) -> str:
    bare = domain.removeprefix("https://").removeprefix("http://").rstrip("/")
    if not bare or any(c in bare for c in "/?#*@ ") or not bare.isascii():
        raise ValueError(f"a CloudFront domain is a host name such as d111.cloudfront.net, got {domain!r}")
    return bare


def _path_problem(path: str) -> str | None:
    if not path.startswith("/"):
        return "must start with '/'"
    if "\\" in path or "\x00" in path:
        return "may not contain backslashes or NUL"
    if any(part in {"", ".", ".."} for part in path[1:].split("/")):
        return "has an empty or relative segment"
    return None


class CloudFrontUrlSigner:
    """UrlSigner for CloudFront: custom-policy signed URLs (RSA-SHA1, key group key ``key_id``)."""

    def __init__(
        self,
        domain: str,
        key_id: str,
        private_key_pem: bytes,
        *,
        public_key_pem: bytes | None = None,
    ) -> None:
        if not key_id or not key_id.isalnum():
            raise ValueError(f"a CloudFront public key id is alphanumeric, got {key_id!r}")
        private_key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey) or private_key.key_size < MIN_KEY_BITS:
            raise ValueError(f"CloudFront signing needs an RSA private key of at least {MIN_KEY_BITS} bits")
        derived = private_key.public_key()
        if public_key_pem is not None:
            public_key = serialization.load_pem_public_key(public_key_pem)
            if not isinstance(public_key, rsa.RSAPublicKey) or public_key.public_numbers() != (
                derived.public_numbers()
            ):
                raise ValueError("the public key does not belong to the private key")
        self._domain = _normalise_domain(domain)
        self._key_id = key_id
        self._private_key = private_key
        self._public_key = derived
        self._signer = CloudFrontSigner(key_id, self._rsa_sign)
        self._grants: dict[str, str] = {}
        self._grants_lock = threading.Lock()

    @classmethod
    def from_private_key_file(cls, domain: str, key_id: str, private_key_file: Path) -> CloudFrontUrlSigner:
        return cls(domain, key_id, private_key_file.read_bytes())

    @property
    def domain(self) -> str:
        return self._domain

    @property
    def key_id(self) -> str:
        return self._key_id

    def public_key_pem(self) -> bytes:
        """The PEM to register as the CloudFront public key (what ``aws provision`` uploads)."""
        return self._public_key.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )

    # --- UrlSigner ------------------------------------------------------------------------------

    def sign(self, path: str, *, subject: str, expires_at: datetime) -> str:
        problem = _path_problem(path)
        if problem is not None:
            raise InvalidInput(f"a signed path {problem}: {path!r}")
        expires = require_aware(expires_at)
        url = f"{self._url(path)}?{_SUBJECT_PARAM}={quote(subject, safe='')}"
        policy = self._signer.build_policy(self.resource_for(path, subject), expires)
        return f"{url}&{self._signed_params(policy)}"

    def verify(self, path: str, query: dict[str, str], *, now: datetime) -> str:
        try:
            subject = query[_SUBJECT_PARAM]
            policy, signature, key_pair_id = (query[name] for name in _URL_PARAMS)
        except KeyError:
            raise SignatureInvalid("the URL is not signed") from None
        problem = _path_problem(path)
        if problem is not None:
            raise SignatureInvalid(f"the path {problem}")
        requested = f"{self._url(path)}?{_SUBJECT_PARAM}={quote(subject, safe='')}"
        self._check(policy, signature, key_pair_id, requested=requested, now=now)
        return subject

    # --- beyond the port ------------------------------------------------------------------------

    def resource_for(self, path: str, subject: str) -> str:
        """The policy Resource a URL for ``path`` gets: the rung folder if it is in one, else the path."""
        return f"{self._grant(path)}?{_SUBJECT_PARAM}={quote(subject, safe='')}"

    def signed_cookies(self, path_prefix: str, *, expires_at: datetime) -> dict[str, str]:
        """The three CloudFront-* cookies granting every file under ``path_prefix`` (a rung folder).

        Set them with ``Path={path_prefix}; Secure; HttpOnly`` on a domain the CDN shares, one set
        per rung the listener may stream.
        """
        if not path_prefix.endswith("/") or _path_problem(path_prefix.rstrip("/")) is not None:
            raise InvalidInput(f"a cookie grants a folder such as /media/t1/128k/, got {path_prefix!r}")
        resource = f"{self._url(path_prefix)}*"
        policy = self._signer.build_policy(resource, require_aware(expires_at)).encode("utf-8")
        return {
            "CloudFront-Policy": cloudfront_b64encode(policy),
            "CloudFront-Signature": cloudfront_b64encode(self._rsa_sign(policy)),
            "CloudFront-Key-Pair-Id": self._key_id,
        }

    def verify_cookies(self, path: str, cookies: dict[str, str], *, now: datetime) -> None:
        """What CloudFront checks when a request for ``path`` carries signed cookies."""
        try:
            policy, signature, key_pair_id = (cookies[name] for name in COOKIE_NAMES)
        except KeyError:
            raise SignatureInvalid("the request carries no signed cookies") from None
        problem = _path_problem(path)
        if problem is not None:
            raise SignatureInvalid(f"the path {problem}")
        self._check(policy, signature, key_pair_id, requested=self._url(path), now=now)

    # --- helpers --------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"https://{self._domain}{quote(path)}"

    def _grant(self, path: str) -> str:
        folder, _, _ = path.rpartition("/")
        if _RUNG_FOLDER.fullmatch(folder.rpartition("/")[2]):
            return f"{self._url(folder)}/*"
        return self._url(path)

    def _signed_params(self, policy: str) -> str:
        """``Policy``, ``Signature`` and ``Key-Pair-Id`` as query parameters, as CloudFront reads them.

        A policy grants a whole rung folder, so every segment of a variant playlist signed for one
        listener and expiry carries the same one: it is signed once (an RSA signature costs about a
        millisecond) and reused for the rest of the playlist.
        """
        with self._grants_lock:
            params = self._grants.get(policy)
        if params is None:
            encoded = policy.encode("utf-8")
            signature = self._rsa_sign(encoded)
            signed = cloudfront_b64encode(encoded), cloudfront_b64encode(signature), self._key_id
            params = "&".join(f"{name}={value}" for name, value in zip(_URL_PARAMS, signed, strict=True))
            with self._grants_lock:
                if len(self._grants) >= _MAX_REMEMBERED_GRANTS:
                    self._grants.clear()
                self._grants[policy] = params
        return params

    def _rsa_sign(self, message: bytes) -> bytes:
        # CloudFront verifies RSA-SHA1 (PKCS#1 v1.5); it accepts no other digest for key groups.
        return self._private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

    def _check(self, policy: str, signature: str, key_pair_id: str, *, requested: str, now: datetime) -> None:
        if not hmac.compare_digest(key_pair_id.encode(), self._key_id.encode()):
            raise SignatureInvalid("the URL was signed with another key")
        try:
            policy_bytes = cloudfront_b64decode(policy)
            signature_bytes = cloudfront_b64decode(signature)
        except ValueError:
            raise SignatureInvalid("the policy or signature is not CloudFront base64") from None
        try:
            self._public_key.verify(signature_bytes, policy_bytes, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
        except InvalidSignature:
            raise SignatureInvalid("the signature does not match the policy") from None
        resource, not_before, expires = _read_policy(policy_bytes)
        if not resource_matches(resource, requested):
            raise SignatureInvalid("the policy does not grant this path")
        moment = require_aware(now).timestamp()
        if moment >= expires:
            raise UrlExpired("the URL has expired: fetch a fresh master playlist")
        if not_before is not None and moment <= not_before:
            raise SignatureInvalid("the URL is not valid yet")


def _read_policy(policy: bytes) -> tuple[str, int | None, int]:
    """Resource, DateGreaterThan and DateLessThan of a custom policy we can check; refuse the rest."""
    try:
        document: Any = json.loads(policy)
        (statement,) = document["Statement"]
        resource = statement["Resource"]
        condition = statement["Condition"]
        expires = condition["DateLessThan"]["AWS:EpochTime"]
        not_before = condition.get("DateGreaterThan", {}).get("AWS:EpochTime")
    except (ValueError, TypeError, KeyError, AttributeError):
        raise SignatureInvalid("the policy is not a CloudFront custom policy") from None
    # An IpAddress condition (or anything new) cannot be checked here, so it is refused.
    if set(condition) - {"DateLessThan", "DateGreaterThan"} or set(statement) != {"Resource", "Condition"}:
        raise SignatureInvalid("the policy has conditions this signer does not check")
    if not isinstance(resource, str) or type(expires) is not int:
        raise SignatureInvalid("the policy is not a CloudFront custom policy")
    if not_before is not None and type(not_before) is not int:
        raise SignatureInvalid("the policy is not a CloudFront custom policy")
    return resource, not_before, expires
