"""Access and refresh tokens as HS256 JWTs, with pyjwt."""

from musicconnect.adapters.jwt.tokens import PyJwtTokenIssuer

__all__ = ["PyJwtTokenIssuer"]
