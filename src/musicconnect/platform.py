"""``Platform``: every use case, bound once to the adapters, grouped by area.

This is the typed container the HTTP API, the CLI, the demo, the benchmarks and library users all
call. Each group is a frozen object holding the ports its use cases need; its methods take only
what a caller knows (ids, commands, the signed-in ``Caller``)::

    platform = Platform.from_settings(Settings())
    caller = platform.accounts.authenticate(access_token)
    playlist = platform.streaming.master_playlist(track_id, caller=caller)

The groups are bound in ``Platform.of`` and nowhere else, so wiring is written once.

Adding a group (say, Q&A):

1. in ``usecases/qa.py``, write ``@attrs.frozen class QandA`` whose fields are the ports it needs
   (``uow: Callable[[], UnitOfWork]``, ``clock: Clock``, ...) and whose methods are the use cases;
2. add a field ``qa: QandA`` to ``Platform`` below and bind it in ``Platform.of``;
3. in ``entrypoints/http/deps.py`` add ``QandADep = NamedDependency[SkipValidation[QandA]]``; a
   handler then takes ``qa: QandADep`` (the parameter is named like the field). ``create_app``
   provides every field of ``Platform`` under its own name, so there is nothing to register;
4. if the group queues jobs of its own, put their handler under the job's name in
   ``services.job_handlers`` in ``Platform.of`` (as ``live`` does for ``FINISH_JOB``) and add the
   name to the known jobs in ``bootstrap``: the job queue, built before the groups, runs it there.
"""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType
from typing import Self

import attrs

from musicconnect.adapters.inprocess import Repeating, Schedule
from musicconnect.bootstrap import Services, bootstrap, notifications_of
from musicconnect.domain.stranded import SWEEP_EVERY
from musicconnect.settings import Settings
from musicconnect.usecases.accounts import Accounts
from musicconnect.usecases.artists import Artists
from musicconnect.usecases.backstage import Backstage
from musicconnect.usecases.backstage_media import CLIP_JOB
from musicconnect.usecases.conversations import Conversations
from musicconnect.usecases.dashboard import Dashboards
from musicconnect.usecases.library import Library
from musicconnect.usecases.live import FINISH_JOB, LiveSessions
from musicconnect.usecases.notifications import (
    NOTIFY_JOB,
    SWEEP_RELEASES_JOB,
    Notifications,
    NotifyingPublisher,
)
from musicconnect.usecases.payouts import Payouts
from musicconnect.usecases.profile import Profiles
from musicconnect.usecases.qa import MonthlyQa
from musicconnect.usecases.streaming import Streaming
from musicconnect.usecases.subscriptions import Subscriptions
from musicconnect.usecases.throttling import Throttling
from musicconnect.usecases.tracks import Tracks
from musicconnect.usecases.webhooks import Webhooks


@attrs.frozen
class Platform:
    """Music Connect's use cases, bound once, by area. Build it with ``Platform.from_settings``,
    ``Platform.of(bootstrap(...))`` for explicit adapters, or ``musicconnect.testing.in_memory()``.

    Close it when done (or use it as a context manager): it closes the adapters it was built on.
    """

    #: The adapters the groups are bound to (advanced use: reach a port directly).
    services: Services
    #: Register, log in and out, authenticate tokens.
    accounts: Accounts
    #: The signed-in person's own account: read, change, verify, reset, export, erase.
    profiles: Profiles
    #: Artist profiles and tier prices.
    artists: Artists
    #: Upload, transcode, list and read tracks.
    tracks: Tracks
    #: Master playlists and signed media.
    streaming: Streaming
    #: Live sessions: scheduling, the RTMP server's callbacks, listening live, the recording kept.
    live: LiveSessions
    #: Subscribe, change tier, cancel, and the monthly billing run.
    billing: Subscriptions
    #: A fan's library: follow, like (and undo them), play, listening history, and the counts.
    library: Library
    #: Direct messages: a superfan's five a month, the artist's replies, threads and inbox.
    conversations: Conversations
    #: The artist's monthly Q&A: open, ask (three per fan), upvote, answer, hide, close.
    qa: MonthlyQa
    #: The superfans' virtual backstage: the artist's posts (text, images, a clip), comments, moderation.
    backstage: Backstage
    #: A fan's notification feed and email choices; other groups announce through it.
    notifications: Notifications
    #: The artist's dashboard.
    dashboard: Dashboards
    #: Payout runs, receipts and onboarding.
    payouts: Payouts
    #: The payment processor's events.
    webhooks: Webhooks
    #: Rate limits on logins, registrations, resets and plays.
    throttling: Throttling

    def schedule(self) -> Schedule:
        """What a process that runs jobs does on a schedule: queue the release sweep, every
        ``release_sweep_s``, and queue again the backstage clips left processing, every
        ``SWEEP_EVERY`` (``domain.stranded``). Not started: the worker starts it, and ``serve``
        on the embedded default, where jobs run in the API processes."""
        every = self.services.settings.release_sweep_s
        return Schedule(
            Repeating("release-sweep", every, self.notifications.queue_release_sweep),
            Repeating("stranded-clips", SWEEP_EVERY.total_seconds(), self.backstage.requeue_stranded_clips),
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Platform:
        """The platform on the adapters ``settings`` configure (embedded defaults when unset;
        ``Settings()`` reads the ``MUSICCONNECT_*`` environment variables)."""
        return cls.of(bootstrap(settings if settings is not None else Settings()))

    @classmethod
    def of(cls, services: Services) -> Platform:
        """Bind every use case to ``services``: the one place the wiring is written."""
        s = services
        settings = s.settings
        lease = timedelta(seconds=settings.payment_lease_s)
        billing = Subscriptions(s.uow, s.payments.billing, s.ids, s.clock, lease)
        accounts = Accounts(s.uow, s.hasher, s.tokens, s.denylist, s.ids, s.clock, s.mail)
        notifications = notifications_of(s)
        url_ttl = timedelta(seconds=settings.url_ttl_s)
        tracks = Tracks(
            s.uow, s.probe, s.storage, s.transcoder, s.jobs, s.ids, s.clock, s.policy, notifications
        )
        live = LiveSessions(
            s.uow,
            s.storage,
            s.signer,
            s.cache,
            # Notifications hear of a session starting; the services' publisher still gets every event.
            NotifyingPublisher(notifications, s.events),
            s.jobs,
            s.ids,
            s.clock,
            tracks,
            s.recording_packer,
            ingest_url=settings.live_ingest_url,
            ingest_token=s.ingest_token,
            grace=timedelta(seconds=settings.live_grace_s),
            stall=timedelta(seconds=settings.live_stall_s),
            url_ttl=url_ttl,
        )
        # The queue this process runs jobs on (built before the groups) finds the handler here.
        s.job_handlers[FINISH_JOB] = live.run_finish_job
        s.job_handlers[NOTIFY_JOB] = notifications.run_fan_out_job
        s.job_handlers[SWEEP_RELEASES_JOB] = notifications.run_sweep_job
        backstage = Backstage(
            s.uow,
            s.storage,
            s.signer,
            s.images,
            s.probe,
            s.transcoder,
            s.jobs,
            s.quota,
            s.ids,
            s.clock,
            notifications,
        )
        s.job_handlers[CLIP_JOB] = backstage.run_clip_job
        return cls(
            services=s,
            accounts=accounts,
            profiles=Profiles(s.uow, s.hasher, s.mail, s.clock, billing, s.storage),
            artists=Artists(s.uow, s.clock, s.storage, s.images, s.ids),
            tracks=tracks,
            streaming=Streaming(
                s.reader,
                s.ready_tracks,
                s.cache,
                s.storage,
                s.signer,
                s.clock,
                ttl=url_ttl,
                tokens=s.tokens,
                reads=s.access_reads,
                blocking=s.blocking,
            ),
            live=live,
            billing=billing,
            library=Library(s.uow, s.quota, s.clock),
            conversations=Conversations(s.uow, s.quota, s.ids, s.clock, notifications),
            qa=MonthlyQa(s.uow, s.quota, s.ids, s.clock, notifications),
            backstage=backstage,
            notifications=notifications,
            dashboard=Dashboards(s.uow, s.clock),
            payouts=Payouts(
                s.uow,
                s.payments.payouts,
                s.payments.accounts,
                s.ids,
                s.clock,
                minimum_minor=settings.payout_minimum_minor,
                lease=lease,
            ),
            webhooks=Webhooks(s.uow, s.payments.reads, s.payments.accounts, s.ids, s.clock),
            throttling=Throttling(s.throttle, s.quota, s.clock),
        )

    @property
    def settings(self) -> Settings:
        """The settings the platform was built from."""
        return self.services.settings

    def close(self) -> None:
        """Close the adapters (connections, worker threads)."""
        self.services.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
