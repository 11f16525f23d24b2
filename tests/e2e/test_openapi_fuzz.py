"""The whole OpenAPI surface under schemathesis: no 5xx, and every answer as the document says.

The app runs in-process on the embedded defaults (SQLite, local media) with a signed-in fan and
a signed-in artist. Schemathesis sends schema-valid and schema-violating requests to every
operation; each answer must be no server error, a documented status with a documented content
type, headers and body.

Two of schemathesis's checks are left out, each for a reason outside the document's reach:
- ``positive_data_acceptance``: the domain's rules are stricter than a JSON schema can say (a
  well-formed email, a password long enough, a display name of at most 100 characters), so a
  schema-valid body may rightly get 422 with its reason;
- ``allow_header_conformance``: Litestar 2 lists only one handler's method in an OPTIONS answer
  for a path with several (litestar-org/litestar#4169, fixed in Litestar 3).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import allow_header_conformance, positive_data_acceptance

from musicconnect.bootstrap import Services, bootstrap
from musicconnect.domain.accounts import Account, Role
from musicconnect.entrypoints.http.app import create_app
from musicconnect.entrypoints.http.openapi import complete_openapi
from musicconnect.platform import Platform
from musicconnect.settings import Settings
from musicconnect.usecases.accounts import Register, register

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PASSWORD = "correct horse battery"
EXCLUDED = [positive_data_acceptance, allow_header_conformance]
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


def _account(services: Services, email: str, role: Role) -> Account:
    return register(
        Register(email=email, password=PASSWORD, role=role.value, display_name=role.value),
        uow=services.uow(),
        hasher=services.hasher,
        ids=services.ids,
        clock=services.clock,
        mail=services.mail,
    )


def _signed_in(account: Account) -> dict[str, str]:
    """A fresh token for each case: a generated POST /auth/logout revokes the one it is sent with."""
    pair = _SERVICES.tokens.issue(subject=account.id, role=account.role.value)
    return {"Authorization": f"Bearer {pair.access_token}"}


# Schemathesis reads the document when the module is collected, so the app is made here, once.
_DATA = Path(tempfile.mkdtemp(prefix="musicconnect-fuzz-"))
atexit.register(shutil.rmtree, _DATA, ignore_errors=True)
_SERVICES = bootstrap(Settings(data_dir=_DATA, secret_key="f" * 40))
_APP = create_app(Platform.of(_SERVICES))
complete_openapi(_APP)  # what start-up does before the document is first served
FAN = _account(_SERVICES, "fan@example.com", Role.FAN)
ARTIST = _account(_SERVICES, "artist@example.com", Role.ARTIST)
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", _APP)


@schema.parametrize()
@FUZZ
def test_as_a_fan(case: Any) -> None:
    case.call_and_validate(headers=_signed_in(FAN), excluded_checks=EXCLUDED)


@schema.parametrize()
@FUZZ
def test_as_an_artist(case: Any) -> None:
    case.call_and_validate(headers=_signed_in(ARTIST), excluded_checks=EXCLUDED)


@schema.parametrize()
@FUZZ
def test_signed_out(case: Any) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)
