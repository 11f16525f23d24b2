"""Domain errors. Each carries a stable machine-readable ``code``; entrypoints map classes to statuses."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain refuses to break."""

    code = "domain_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):  # noqa: N818 - reads as a sentence at the raise site
    code = "invalid_input"


class NotFound(DomainError):  # noqa: N818
    code = "not_found"


class Conflict(DomainError):  # noqa: N818
    code = "conflict"


class AuthenticationFailed(DomainError):  # noqa: N818
    code = "authentication_failed"


class Forbidden(DomainError):  # noqa: N818
    """The caller is known but not allowed: wrong role, not the owner, tier too low."""

    code = "forbidden"


class QuotaExceeded(DomainError):  # noqa: N818
    code = "quota_exceeded"

    def __init__(self, detail: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        #: Seconds until the quota frees up, when known (sent as Retry-After).
        self.retry_after_s = retry_after_s


class MediaRejected(DomainError):  # noqa: N818
    """An upload that is not acceptable audio: wrong format, damaged, too long, hostile."""

    code = "media_rejected"


class MediaTooLarge(MediaRejected):
    code = "media_too_large"


class SignatureInvalid(DomainError):  # noqa: N818
    """A signed media URL that was tampered with, has expired, or reaches above the caller's tier."""

    code = "signature_invalid"


class UrlExpired(SignatureInvalid):
    """A genuine signed URL past its expiry: the player should fetch a fresh master playlist."""

    code = "url_expired"


class InsufficientBalance(DomainError):  # noqa: N818
    code = "insufficient_balance"


class ServiceUnavailable(DomainError):  # noqa: N818
    """A backing service is down; callers should retry later. Never silently degrades a rule."""

    code = "service_unavailable"


class PaymentFailed(DomainError):  # noqa: N818
    """The processor declined or could not take a payment."""

    code = "payment_failed"
