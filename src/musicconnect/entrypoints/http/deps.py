"""What handlers may ask for by name. Each is injected as is: Litestar's validation of injected
values would trip over Protocol types (UnitOfWork) and only costs time on values we built."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency
from litestar.params import SkipValidation

from musicconnect.bootstrap import Services
from musicconnect.domain.accounts import Caller
from musicconnect.ports.repositories import UnitOfWork
from musicconnect.usecases.streaming import StreamOpener

#: Every port, assembled by bootstrap.
ServicesDep: TypeAlias = NamedDependency[SkipValidation[Services]]
#: A fresh unit of work for this request.
UowDep: TypeAlias = NamedDependency[SkipValidation[UnitOfWork]]
#: The signed-in caller (401 without a valid token). Name the parameter ``caller``.
CallerDep: TypeAlias = NamedDependency[SkipValidation[Caller]]
#: The caller if a token was sent, else None. Name the parameter ``viewer``.
ViewerDep: TypeAlias = NamedDependency[SkipValidation[Caller | None]]
#: Opening streams, bound once at start-up.
StreamsDep: TypeAlias = NamedDependency[SkipValidation[StreamOpener]]
