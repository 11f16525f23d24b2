"""Stripe's exceptions as the domain's errors: the only ones that leave the adapter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

import stripe

from musicconnect.domain.errors import (
    Conflict,
    InsufficientBalance,
    InvalidInput,
    NotFound,
    PaymentFailed,
    ServiceUnavailable,
)


def _message(error: stripe.StripeError) -> str:
    return error.user_message or str(error) or type(error).__name__


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Run Stripe calls for ``action``, turning whatever Stripe raises into a domain error."""
    try:
        yield
    except stripe.CardError as error:
        raise PaymentFailed(f"{action}: {_message(error)}") from error
    except stripe.IdempotencyError as error:
        # The same key for a different request: a bug or a replay, never something to answer.
        raise Conflict(f"{action}: {_message(error)}") from error
    except stripe.InvalidRequestError as error:
        if error.code == "balance_insufficient":
            raise InsufficientBalance(f"{action}: {_message(error)}") from error
        if error.http_status == HTTPStatus.NOT_FOUND or error.code == "resource_missing":
            raise NotFound(f"{action}: {_message(error)}") from error
        raise InvalidInput(f"{action}: {_message(error)}") from error
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        # Timeouts, refused connections, 5xx and throttling: nothing we sent was wrong; retry later.
        raise ServiceUnavailable(
            f"{action}: the payment processor did not answer ({_message(error)})"
        ) from error
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        raise ServiceUnavailable(f"{action}: the payment processor refused our credentials") from error
    except stripe.StripeError as error:
        raise ServiceUnavailable(f"{action}: {_message(error)}") from error
