"""JWT access and refresh tokens signed with HS256 and checked strictly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

import jwt

from musicconnect.domain.errors import AuthenticationFailed, InvalidInput
from musicconnect.ports.services import Clock, TokenClaims, TokenFamily, TokenPair

ACCESS: Final = "access"
REFRESH: Final = "refresh"
_KINDS: Final = frozenset({ACCESS, REFRESH})
#: The only algorithm we sign with is the only one we accept: no "none", no RS256/HS256 confusion.
_ALGORITHM: Final = "HS256"
#: RFC 7518 section 3.2: an HS256 key MUST be at least as long as the hash output.
MIN_SECRET_BYTES: Final = 32
_REQUIRED: Final = ["sub", "role", "jti", "fam", "fxp", "typ", "iat", "nbf", "exp", "iss", "aud"]
_STRING_CLAIMS: Final = ("sub", "role", "jti", "fam", "typ")
#: fxp: when the token's family (its login) ends; refresh tokens expire then, access tokens earlier.
_TIME_CLAIMS: Final = ("iat", "nbf", "exp", "fxp")
DEFAULT_ACCESS_TTL_S: Final = 15 * 60
DEFAULT_REFRESH_TTL_S: Final = 30 * 24 * 3600


class PyJwtTokenIssuer:
    def __init__(
        self,
        secret: str,
        *,
        issuer: str = "musicconnect",
        audience: str = "musicconnect-api",
        access_ttl_s: int = DEFAULT_ACCESS_TTL_S,
        refresh_ttl_s: int = DEFAULT_REFRESH_TTL_S,
        clock: Clock,
    ) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes")
        if access_ttl_s <= 0 or refresh_ttl_s <= 0:
            raise ValueError("token lifetimes must be positive")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl_s = {ACCESS: access_ttl_s, REFRESH: refresh_ttl_s}
        self._clock = clock

    def issue(self, *, subject: str, role: str, family: TokenFamily | None = None) -> TokenPair:
        if not subject or not role:
            raise InvalidInput("a token needs a subject and a role")
        issued_at = int(self._clock.now().timestamp())
        if family is None:
            family = TokenFamily(
                id=uuid.uuid4().hex,
                expires_at=datetime.fromtimestamp(issued_at + self._ttl_s[REFRESH], tz=UTC),
            )
        family_ends = int(family.expires_at.timestamp())
        access_ends = min(issued_at + self._ttl_s[ACCESS], family_ends)
        return TokenPair(
            access_token=self._encode(subject, role, ACCESS, issued_at, access_ends, family),
            refresh_token=self._encode(subject, role, REFRESH, issued_at, family_ends, family),
            expires_in=access_ends - issued_at,
        )

    def decode(self, token: str, *, kind: str) -> TokenClaims:
        if kind not in _KINDS:
            raise ValueError(f"unknown token kind {kind!r}")
        payload = self._verified_payload(token)
        if payload["typ"] != kind:
            raise AuthenticationFailed(f"expected a {kind} token")
        # pyjwt compares times with the real clock; ours is the injected one, checked here.
        now = self._clock.now().timestamp()
        if payload["exp"] <= now:
            raise AuthenticationFailed("token has expired")
        if payload["nbf"] > now or payload["iat"] > now:
            raise AuthenticationFailed("token is not valid yet")
        return TokenClaims(
            subject=payload["sub"],
            role=payload["role"],
            token_id=payload["jti"],
            kind=payload["typ"],
            expires_at=datetime.fromtimestamp(payload["exp"], tz=UTC),
            issued_at=datetime.fromtimestamp(payload["iat"], tz=UTC),
            family=TokenFamily(id=payload["fam"], expires_at=datetime.fromtimestamp(payload["fxp"], tz=UTC)),
        )

    def _encode(  # noqa: PLR0917 - private, called with every claim in order
        self, subject: str, role: str, kind: str, issued_at: int, expires_at: int, family: TokenFamily
    ) -> str:
        claims = {
            "sub": subject,
            "role": role,
            "jti": uuid.uuid4().hex,
            "fam": family.id,
            "fxp": int(family.expires_at.timestamp()),
            "typ": kind,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires_at,
            "iss": self._issuer,
            "aud": self._audience,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def _verified_payload(self, token: str) -> dict[str, Any]:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=0,
                options={
                    "require": _REQUIRED,
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            # ValueError/TypeError: pyjwt lets a few malformed inputs through as plain errors.
            raise AuthenticationFailed("invalid token") from exc
        for claim in _STRING_CLAIMS:
            if not isinstance(payload[claim], str) or not payload[claim]:
                raise AuthenticationFailed(f"claim {claim!r} must be a non-empty string")
        for claim in _TIME_CLAIMS:
            value = payload[claim]
            if isinstance(value, bool) or not isinstance(value, int):
                raise AuthenticationFailed(f"claim {claim!r} must be an integer timestamp")
        return payload
