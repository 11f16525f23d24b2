"""What handlers may ask for by name: the use-case groups of ``Platform``, bound once at start-up,
and the caller. A handler takes ``tracks: TracksDep`` (the parameter is named like the
``Platform`` field) and calls ``tracks.view(...)``; ``create_app`` provides every field of
``Platform`` under its own name. Each is injected as is: Litestar's validation of injected values
would trip over Protocol types and only costs time on values we built."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency
from litestar.params import SkipValidation

from musicconnect.domain.accounts import Caller
from musicconnect.entrypoints.http.uploads import UploadFolder
from musicconnect.usecases.accounts import Accounts
from musicconnect.usecases.artists import Artists
from musicconnect.usecases.backstage import Backstage
from musicconnect.usecases.conversations import Conversations
from musicconnect.usecases.dashboard import Dashboards
from musicconnect.usecases.library import Library
from musicconnect.usecases.live import LiveSessions
from musicconnect.usecases.notifications import Notifications
from musicconnect.usecases.payouts import Payouts
from musicconnect.usecases.profile import Profiles
from musicconnect.usecases.qa import MonthlyQa
from musicconnect.usecases.streaming import Streaming
from musicconnect.usecases.subscriptions import Subscriptions
from musicconnect.usecases.throttling import Throttling
from musicconnect.usecases.tracks import Tracks
from musicconnect.usecases.webhooks import Webhooks

#: Name the parameter ``accounts``.
AccountsDep: TypeAlias = NamedDependency[SkipValidation[Accounts]]
#: Name the parameter ``profiles``.
ProfilesDep: TypeAlias = NamedDependency[SkipValidation[Profiles]]
#: Name the parameter ``artists``.
ArtistsDep: TypeAlias = NamedDependency[SkipValidation[Artists]]
#: Name the parameter ``tracks``.
TracksDep: TypeAlias = NamedDependency[SkipValidation[Tracks]]
#: Name the parameter ``streaming``.
StreamingDep: TypeAlias = NamedDependency[SkipValidation[Streaming]]
#: Name the parameter ``live``.
LiveDep: TypeAlias = NamedDependency[SkipValidation[LiveSessions]]
#: Name the parameter ``billing``.
BillingDep: TypeAlias = NamedDependency[SkipValidation[Subscriptions]]
#: Name the parameter ``library``.
LibraryDep: TypeAlias = NamedDependency[SkipValidation[Library]]
#: Name the parameter ``conversations``.
ConversationsDep: TypeAlias = NamedDependency[SkipValidation[Conversations]]
#: Name the parameter ``backstage``.
BackstageDep: TypeAlias = NamedDependency[SkipValidation[Backstage]]
#: Name the parameter ``qa``.
QaDep: TypeAlias = NamedDependency[SkipValidation[MonthlyQa]]
#: Name the parameter ``notifications``.
NotificationsDep: TypeAlias = NamedDependency[SkipValidation[Notifications]]
#: Name the parameter ``dashboard``.
DashboardDep: TypeAlias = NamedDependency[SkipValidation[Dashboards]]
#: Name the parameter ``payouts``.
PayoutsDep: TypeAlias = NamedDependency[SkipValidation[Payouts]]
#: Name the parameter ``webhooks``.
WebhooksDep: TypeAlias = NamedDependency[SkipValidation[Webhooks]]
#: Name the parameter ``throttling``.
ThrottlingDep: TypeAlias = NamedDependency[SkipValidation[Throttling]]
#: Where uploads are spooled while they arrive. Name the parameter ``uploads``.
UploadsDep: TypeAlias = NamedDependency[SkipValidation[UploadFolder]]
#: The signed-in caller (401 without a valid token). Name the parameter ``caller``.
CallerDep: TypeAlias = NamedDependency[SkipValidation[Caller]]
#: The caller if a token was sent, else None. Name the parameter ``viewer``.
ViewerDep: TypeAlias = NamedDependency[SkipValidation[Caller | None]]
