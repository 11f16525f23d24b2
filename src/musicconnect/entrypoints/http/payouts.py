"""The artist's dashboard and payouts, and the admin's monthly runs."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.deps import CallerDep, ServicesDep, UowDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import (
    BillingRunOut,
    DashboardOut,
    PayoutOut,
    PayoutRunIn,
    PayoutRunOut,
)
from musicconnect.usecases import dashboard, payouts
from musicconnect.usecases.access import require_admin


class ArtistMoneyController(Controller):
    path = "/artists/{artist_id:str}"
    tags = ("artists",)
    security = BEARER

    @get("/dashboard", sync_to_thread=True, responses=error_responses(401, 403, 404))
    def show_dashboard(
        self, *, artist_id: FromPath[str], caller: CallerDep, services: ServicesDep, uow: UowDep
    ) -> DashboardOut:
        """Plays and revenue per day over 30 days, top fans and the conversion funnel."""
        return DashboardOut.of(
            dashboard.build_dashboard(artist_id, caller=caller, uow=uow, clock=services.clock)
        )

    @get("/payouts", sync_to_thread=True, responses=error_responses(401, 403))
    def payout_history(self, *, artist_id: FromPath[str], caller: CallerDep, uow: UowDep) -> list[PayoutOut]:
        """The artist's payouts, newest first, each with its 90/10 split."""
        return [PayoutOut.of(p) for p in payouts.payouts_of(artist_id, caller=caller, uow=uow)]


class AdminController(Controller):
    path = "/"
    tags = ("admin",)
    security = BEARER

    @post(
        "/payouts/run", status_code=HTTP_200_OK, sync_to_thread=True, responses=error_responses(401, 403, 409)
    )
    def run_payouts(
        self, *, data: JSONBody[PayoutRunIn], caller: CallerDep, services: ServicesDep, uow: UowDep
    ) -> PayoutRunOut:
        """Pay every artist their available balance for the period; running it again pays nothing more."""
        paid = payouts.run_payouts(
            data.period,
            caller=caller,
            uow=uow,
            gateway=services.payments.payouts,
            ids=services.ids,
            clock=services.clock,
            minimum_minor=services.settings.payout_minimum_minor,
            lease=services.payment_lease,
        )
        return PayoutRunOut.of(data.period, paid)

    @post(
        "/admin/billing/run",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=error_responses(401, 403),
    )
    def run_billing(self, *, caller: CallerDep, services: ServicesDep) -> BillingRunOut:
        """Renew every due subscription and charge for its next period."""
        # run_billing is also the CLI's and the worker's, which have no caller; the HTTP door checks.
        require_admin(caller)
        report = services.subscriptions.run_billing()
        return BillingRunOut(renewed=report.renewed, canceled=report.canceled, past_due=report.past_due)
