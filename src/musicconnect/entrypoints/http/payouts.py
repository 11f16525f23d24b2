"""The artist's dashboard and payouts, and the admin's monthly runs."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from musicconnect.entrypoints.http.auth import BEARER
from musicconnect.entrypoints.http.deps import BillingDep, CallerDep, DashboardDep, PayoutsDep
from musicconnect.entrypoints.http.errors import error_responses
from musicconnect.entrypoints.http.schemas import (
    BillingRunOut,
    DashboardOut,
    PayoutOut,
    PayoutRunIn,
    PayoutRunOut,
)
from musicconnect.usecases.access import require_admin


class ArtistMoneyController(Controller):
    path = "/artists/{artist_id:str}"
    tags = ("artists",)
    security = BEARER

    @get("/dashboard", sync_to_thread=True, responses=error_responses(401, 403, 404))
    def show_dashboard(
        self, *, artist_id: FromPath[str], caller: CallerDep, dashboard: DashboardDep
    ) -> DashboardOut:
        """Plays and revenue per day over 30 days, top fans and the conversion funnel."""
        return DashboardOut.of(dashboard.of_artist(artist_id, caller=caller))

    @get("/payouts", sync_to_thread=True, responses=error_responses(401, 403))
    def payout_history(
        self, *, artist_id: FromPath[str], caller: CallerDep, payouts: PayoutsDep
    ) -> list[PayoutOut]:
        """The artist's payouts, newest first, each with its 90/10 split."""
        return [PayoutOut.of(p) for p in payouts.of_artist(artist_id, caller=caller)]


class AdminController(Controller):
    path = "/"
    tags = ("admin",)
    security = BEARER

    @post(
        "/payouts/run", status_code=HTTP_200_OK, sync_to_thread=True, responses=error_responses(401, 403, 409)
    )
    def run_payouts(
        self, *, data: JSONBody[PayoutRunIn], caller: CallerDep, payouts: PayoutsDep
    ) -> PayoutRunOut:
        """Pay every artist their available balance for the period; running it again pays nothing more."""
        paid = payouts.run(data.period, caller=caller)
        return PayoutRunOut.of(data.period, paid)

    @post(
        "/admin/billing/run",
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=error_responses(401, 403),
    )
    def run_billing(self, *, caller: CallerDep, billing: BillingDep) -> BillingRunOut:
        """Renew every due subscription and charge for its next period."""
        # run_billing is also the CLI's and the worker's, which have no caller; the HTTP door checks.
        require_admin(caller)
        report = billing.run_billing()
        return BillingRunOut(renewed=report.renewed, canceled=report.canceled, past_due=report.past_due)
