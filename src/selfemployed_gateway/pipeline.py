"""The request pipeline, composed in the order of specification §3.

The first failing stage answers: a status (`Reply`) or a fault (`GatewayFault`). R-10
primary validation runs at the SOAP edge, before a `ConsultRequest` exists. The pipeline is a
coroutine only because of R-22: the supplier call is awaited, every other stage is a plain
function. It knows nothing of SOAP, XML, TLS or HTTP: records in, a record or a fault out.

Order, as §3 gives it: who calls (R-11, R-12), then — a decision of this project — the
consistency of that client's annex entry (R-14) *before* its authorisation for the operation
(R-13): an entry that contradicts the configuration cannot be trusted to authorise anything,
so its requests get MSG00003 whatever they ask. Then the supplier's operations (R-60), the
dates (R-15, R-30 … R-37), the NISS (R-16 … R-19), the integrations (R-20, R-21), the call
(R-22), its interpretation (R-23) and the filtering (R-24, R-50, R-51, R-55).

Each stage that runs records its step in the exchange's decision trail (`trace.decisions`,
issue #18): passed, or the step that answered, with the facts it decided on. The trail names
the configuration the exchange was decided on (`configuration`, a digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from selfemployed_gateway import codes
from selfemployed_gateway.annex import Annex
from selfemployed_gateway.clock import Clock, today
from selfemployed_gateway.dataset import ClientEntry
from selfemployed_gateway.decisions import DecisionTrail
from selfemployed_gateway.records import (
    Career,
    CareerRequest,
    ClientCertificate,
    ConsultRequest,
    ContributionPayment,
    ContributionsRequest,
    DatePeriod,
    ExchangeTrace,
    Quarter,
    Reply,
    SsinStatus,
    SupplierOutcome,
)
from selfemployed_gateway.registry import PersonRegister, PersonRepertory
from selfemployed_gateway.stages import (
    authorisation,
    dates,
    filtering,
    integration,
    interpretation,
    niss,
    supplier_call,
)
from selfemployed_gateway.suppliers import Supplier

# without a period, the whole career from the start of the self-employed status.
CAREER_START = date(1956, 7, 1)


@dataclass(frozen=True)
class Pipeline:
    annex: Annex
    register: PersonRegister
    repertory: PersonRepertory
    supplier: Supplier
    clock: Clock
    #: The digest of the annex and dataset in force, named in every exchange's trail.
    configuration: str | None = None

    async def consult(
        self,
        request: ConsultRequest,
        certificate: ClientCertificate | None,
        trace: ExchangeTrace,
    ) -> Reply:
        trail = trace.decisions
        # The exchange named the annex in force when it began (exchange.py); a reload since
        # then means this pipeline decided: the trail names it.
        trail.configuration = self.configuration
        client = authorisation.identify_client(self.annex, certificate, trail=trail)
        trace.client_id = client.id
        authorisation.authorise_service(client, trail=trail)
        authorisation.check_consistency(self.annex, client, trail=trail)
        reply = await self._decide(client, request, trace)
        if isinstance(request, CareerRequest):
            # every element the client may not receive, whatever the status.
            return reply.model_copy(update={"data_filters": filtering.data_filters(client.filters)})
        return reply

    async def _decide(
        self, client: ClientEntry, request: ConsultRequest, trace: ExchangeTrace
    ) -> Reply:
        trail = trace.decisions
        if refusal := authorisation.authorise_operation(client, request, trail=trail):
            return refusal
        supplier_call.check_available(self.supplier, request.operation, trail=trail)
        day = today(self.clock)
        if refusal := dates.validate_period(request, day, trail=trail):  # … R-37
            return refusal
        ssin = await niss.check_ssin(request.ssin, self.register, trail=trail)  # R-16 … R-19
        if isinstance(ssin, Reply):
            return ssin
        period = consulted_period(request)
        checked = checked_period(period, day)
        if refusal := await integration.check_client_integration(  # … R-46
            client, request.ssin, checked, day, self.repertory, trail=trail
        ):
            return _with_ssin(refusal, ssin)
        if refusal := await integration.check_supplier_integration(  # consulted period
            request.ssin, period, self.repertory, trail=trail
        ):
            return _with_ssin(refusal, ssin)
        if isinstance(request, CareerRequest):
            return await self._career(client, request, period, ssin, trace)
        return await self._contributions(request, ssin, trace)

    async def _career(
        self,
        client: ClientEntry,
        request: CareerRequest,
        period: DatePeriod,
        ssin: SsinStatus,
        trace: ExchangeTrace,
    ) -> Reply:
        trail = trace.decisions
        answer = await supplier_call.call_career(
            self.supplier, request.ssin, period, trace, trail=trail
        )
        status, information = interpretation.status_of(answer.outcome, trail=trail)
        if status is not codes.DATA_FOUND:
            return Reply(status=status, information=information, ssin=ssin)
        career = answer.career
        if career is not None:
            career = filtering.filter_career(
                career, period, client.filters, trail=trail
            )
            if career is None:  # nothing overlaps the consulted period: "filtering" answered
                status, information = interpretation.status_of(SupplierOutcome.NO_DATA_FOR_PERIOD)
                return Reply(status=status, information=information, ssin=ssin)
        _replied(trail, career=career)
        return Reply(status=status, ssin=ssin, career=career)

    async def _contributions(
        self, request: ContributionsRequest, ssin: SsinStatus, trace: ExchangeTrace
    ) -> Reply:
        trail = trace.decisions
        answer = await supplier_call.call_contributions(
            self.supplier, request, trace, trail=trail
        )
        status, information = interpretation.status_of(answer.outcome, trail=trail)
        if status is not codes.DATA_FOUND:
            return Reply(status=status, information=information, ssin=ssin)
        payments = filtering.keep_consulted_quarters(  # §6
            answer.payments, request.begin_quarter, request.end_quarter, trail=trail
        )
        if not payments:  # none of the consulted quarters: "filtering" answered
            status, information = interpretation.status_of(SupplierOutcome.NO_DATA_FOR_PERIOD)
            return Reply(status=status, information=information, ssin=ssin)
        _replied(trail, payments=payments)
        return Reply(status=status, ssin=ssin, payments=payments)


def _replied(
    trail: DecisionTrail,
    career: Career | None = None,
    payments: tuple[ContributionPayment, ...] | None = None,
) -> None:
    """R-25: the DATA_FOUND reply, counted (never its content)."""
    if payments is not None:
        trail.answered("reply", "R-25", status=codes.DATA_FOUND.code, contributions=len(payments))
        return
    affiliations = career.affiliations if career is not None else ()
    trail.answered(
        "reply",
        "R-25",
        status=codes.DATA_FOUND.code,
        affiliations=len(affiliations),
        segments=sum(len(affiliation.segments) for affiliation in affiliations),
    )


def consulted_period(request: ConsultRequest) -> DatePeriod:
    """The days consulted: the career period (R-33) or the quarters' days (R-34 … R-36)."""
    if isinstance(request, CareerRequest):
        return request.period or DatePeriod(begin=CAREER_START)
    begin = Quarter.parse(request.begin_quarter).first_day
    end_quarter = request.end_quarter
    if end_quarter is None:
        return DatePeriod(begin=begin)
    return DatePeriod(begin=begin, end=Quarter.parse(end_quarter).last_day)


def checked_period(period: DatePeriod, day: date) -> DatePeriod:
    """For the client's integration checks (R-20, R-40 … R-46) an open end means today: a
    client may know a person up to now, not for activities yet to come.

    INASTI's check (R-21) takes the consulted period itself: an open consultation returns
    segments that start in the future (R-33), so a person whose activity is declared to start
    after today is known to INASTI for it.
    """
    return period if period.end is not None else DatePeriod(begin=period.begin, end=day)


def _with_ssin(reply: Reply, ssin: SsinStatus) -> Reply:
    return reply if reply.ssin is not None else reply.model_copy(update={"ssin": ssin})
