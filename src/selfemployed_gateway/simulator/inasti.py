"""The built-in INASTI simulator: the reference dataset served over INASTI's final-phase protocol.

It plays INASTI's SelfEmployedService v1 (see `selfemployed_gateway.suppliers.inasti_final`)
for development and tests, with the dataset's `careers` and `contributions`:

* consultCareer returns every segment overlapping the asked period by at least one day
  (R-55; an open end has no upper bound); affiliations without such a segment are left out.
  Unknown person: NO_DATA_FOR_PERSON; known but nothing overlaps: NO_DATA_FOR_PERIOD.
* consultContributions returns the quarters `begin` … `end` inclusive (no `end`: up to the
  last known quarter, R-36); none: NO_DATA_FOR_PERIOD when the person has contributions at
  all, else NO_DATA_FOR_PERSON.
* Fund enterprise numbers come from `dataset.funds`, descriptions FR, NL, DE from
  `dataset.codes` (in the final phase INASTI supplies them, R-82).
* `simulator_behaviours` make it misbehave for some people: `fund_timeout` (result SES00005),
  `under_investigation` (SES00006), `soap_fault` (HTTP 500 with a SOAP Fault), `garbage`
  (HTTP 200, not XML), `slow` (a normal answer after `delay_seconds`), for R-22, R-65, R-66.
* `fund_availability` (R-64): consultContributions answers SES00005 when the simulator's
  clock, in the entry's time zone, is inside the fund's unavailable window (e.g. 19:00–06:00,
  crossing midnight) and a payment of that fund would be returned.

The same resource also serves INASTI's old flow L302 (transitional phase, R-60): a request
whose path ends in ``/L302`` is answered by `selfemployed_gateway.simulator.l302`, with the L302
mapping of `SimulatorSettings.l302_mapping` (default: ``l302-mapping.toml`` beside the
dataset); any other path gets the final-phase protocol.

The answers are computed by pure functions (`answer_career`, `answer_contributions`,
`answer_request`) that say what to send and after which delay; `InastiSimulatorResource`
sends it from Twisted without blocking the reactor. The clock is `SimulatorSettings.clock`
(fixed) or real time, and `latency_ms` is added to every answer. Logs never show a NISS in
clear, only `ssin_tag`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import (
    AffiliationEntry,
    CareerEntry,
    ContributionEntry,
    Dataset,
    FundAvailability,
    LocalizedTexts,
    SegmentEntry,
    SimulatorBehaviour,
)
from selfemployed_gateway.privacy import ssin_tag
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CareerSegment,
    CodedValue,
    ContributionPayment,
    DatePeriod,
    Description,
    Fund,
    Language,
    Operation,
    Quarter,
)
from selfemployed_gateway.settings import SimulatorSettings
from selfemployed_gateway.suppliers.http import CONTENT_TYPE
from selfemployed_gateway.suppliers.inasti_final import (
    CAREER_REQUEST,
    CONTRIBUTIONS_REQUEST,
    SCHEMA,
    ProtocolError,
    ProtocolSchema,
    ResultCode,
    body_payload,
    career_response,
    contributions_response,
    envelope,
    fault_envelope,
    parse_document,
    read_career_request,
    read_contributions_request,
)
from selfemployed_gateway.suppliers.l302_mapping import L302Mapping, load_l302_mapping

logger = logging.getLogger(__name__)

# A request is a few hundred bytes; anything much larger is not one.
MAX_REQUEST_BYTES = 64 * 1024
# The L302 mapping used when `SimulatorSettings.l302_mapping` is not set: beside the dataset.
DEFAULT_L302_MAPPING = "l302-mapping.toml"
L302_SEGMENT = b"L302"
GARBAGE_BODY = b"Service Temporarily Unavailable <<< this is not XML"
_DESCRIPTIONS: Mapping[ResultCode, str] = {
    ResultCode.NO_DATA_FOR_PERSON: "No data for this person",
    ResultCode.NO_DATA_FOR_PERIOD: "No data for this period",
    ResultCode.FUND_TIMEOUT: codes.FUND_TIMEOUT.description,
    ResultCode.UNDER_INVESTIGATION: codes.UNDER_INVESTIGATION.description,
}


@dataclass(frozen=True)
class SimulatorAnswer:
    """What to send: HTTP status, body, after how long; `outcome` names it for logs and tests."""

    status: int
    body: bytes
    outcome: str
    delay_seconds: float = 0.0
    content_type: str = CONTENT_TYPE


# --- dataset -> records -------------------------------------------------------------------


def _coded(table: Mapping[str, LocalizedTexts], code: str) -> CodedValue:
    """`code` with its FR, NL, DE descriptions; none for a code missing from the table."""
    texts = table.get(code)
    if texts is None:
        return CodedValue(code=code)
    return CodedValue(
        code=code,
        descriptions=tuple(
            Description(language=language, text=getattr(texts, language.value))
            for language in Language
        ),
    )


def _fund(dataset: Dataset, code: str) -> Fund:
    entry = dataset.fund(code)
    return Fund(code=code, enterprise_number=None if entry is None else entry.enterpriseNumber)


def _segment(dataset: Dataset, entry: SegmentEntry) -> CareerSegment:
    tables = dataset.codes
    return CareerSegment(
        period=DatePeriod(begin=entry.begin, end=entry.end),
        quality=_coded(tables.selfEmployedQuality, entry.quality),
        contribution=_coded(tables.contribution, entry.contribution),
        equality=None if entry.equality is None else _coded(tables.equality, entry.equality),
    )


def _affiliation(
    dataset: Dataset, entry: AffiliationEntry, period: DatePeriod
) -> Affiliation | None:
    """The affiliation with its segments overlapping `period` (R-55); None if none does."""
    segments = tuple(
        _segment(dataset, segment)
        for segment in entry.segments
        if DatePeriod(begin=segment.begin, end=segment.end).overlaps(period)
    )
    if not segments:
        return None
    return Affiliation(
        fund=_fund(dataset, entry.fund), signature_date=entry.signatureDate, segments=segments
    )


def _career(dataset: Dataset, entry: CareerEntry, period: DatePeriod) -> Career | None:
    """The career restricted to `period`; None when nothing overlaps it."""
    found = (_affiliation(dataset, affiliation, period) for affiliation in entry.affiliations)
    affiliations = tuple(affiliation for affiliation in found if affiliation is not None)
    if not affiliations:
        return None
    occupation = entry.occupation
    return Career(
        nisse_reference=entry.nisseReference,
        enterprise_number=entry.selfEmployedEnterpriseNumber,
        occupation=None if occupation is None else _coded(dataset.codes.occupation, occupation),
        affiliations=affiliations,
    )


def _payment(dataset: Dataset, entry: ContributionEntry) -> ContributionPayment:
    return ContributionPayment(
        quarter=entry.quarter,
        fund=_fund(dataset, entry.fund),
        situation=_coded(dataset.codes.contributionSituation, entry.situation),
        ziv=None if entry.ziv is None else _coded(dataset.codes.ziv, entry.ziv),
    )


# --- behaviours and fund availability -----------------------------------------------------


def behaviour_for(dataset: Dataset, ssin: str, operation: Operation) -> SimulatorBehaviour | None:
    """The first `simulator_behaviours` entry of `ssin` that applies to `operation`."""
    return next(
        (
            entry
            for entry in dataset.simulator_behaviours
            if entry.ssin == ssin and entry.applies_to(operation)
        ),
        None,
    )


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_unavailable_window(entry: FundAvailability, now: datetime) -> bool:
    """Whether `now`, in the entry's time zone, is inside [from, until) (R-64).

    The window may cross midnight (19:00–06:00). A naive `now` is taken as wall-clock time
    of that zone.
    """
    local = now.astimezone(ZoneInfo(entry.timezone)) if now.tzinfo is not None else now
    minute = local.hour * 60 + local.minute
    start, end = _minutes(entry.unavailable_from), _minutes(entry.unavailable_until)
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def _unavailable_funds(dataset: Dataset, operation: Operation, now: datetime) -> set[str]:
    return {
        entry.fund
        for entry in dataset.fund_availability
        if entry.operation in ("*", operation.value) and in_unavailable_window(entry, now)
    }


# --- answers ------------------------------------------------------------------------------


def _xml(body: bytes, outcome: str) -> SimulatorAnswer:
    return SimulatorAnswer(status=200, body=body, outcome=outcome)


def _career_result(result: ResultCode) -> SimulatorAnswer:
    return _xml(envelope(career_response(result, description=_DESCRIPTIONS[result])), result)


def _contributions_result(result: ResultCode) -> SimulatorAnswer:
    body = envelope(contributions_response(result, description=_DESCRIPTIONS[result]))
    return _xml(body, result)


def soap_fault_answer(faultcode: str, faultstring: str, outcome: str) -> SimulatorAnswer:
    """HTTP 500 with a SOAP 1.1 Fault (`faultcode` Client or Server)."""
    return SimulatorAnswer(status=500, body=fault_envelope(faultcode, faultstring), outcome=outcome)


def misbehave(
    behaviour: SimulatorBehaviour | None,
    statuses: Mapping[str, Callable[[], SimulatorAnswer]],
    fault_text: str,
    normal: Callable[[], SimulatorAnswer],
) -> SimulatorAnswer:
    """The answer a `simulator_behaviours` entry asks for, else the normal answer.

    `statuses` gives, per behaviour, the protocol's own status answer (fund_timeout,
    under_investigation); a behaviour the protocol has no status for is answered normally.
    soap_fault, garbage and slow are the same for every protocol.
    """
    kind = None if behaviour is None else behaviour.behaviour
    if kind is not None and kind in statuses:
        return statuses[kind]()
    if kind == "soap_fault":
        return soap_fault_answer("Server", fault_text, "soap_fault")
    if kind == "garbage":
        return SimulatorAnswer(
            status=200,
            body=GARBAGE_BODY,
            outcome="garbage",
            content_type="text/plain; charset=utf-8",
        )
    answer = normal()
    if kind == "slow" and behaviour is not None:
        return replace(answer, delay_seconds=behaviour.delay_seconds or 0.0)
    return answer


def _final_statuses(
    result_answer: Callable[[ResultCode], SimulatorAnswer],
) -> dict[str, Callable[[], SimulatorAnswer]]:
    return {
        "fund_timeout": lambda: result_answer(ResultCode.FUND_TIMEOUT),
        "under_investigation": lambda: result_answer(ResultCode.UNDER_INVESTIGATION),
    }


_FINAL_FAULT = "Internal error at INASTI (simulated)"


def answer_career(
    dataset: Dataset, ssin: str, period: DatePeriod, now: datetime
) -> SimulatorAnswer:
    """INASTI's answer to consultCareer for `ssin` over `period` (R-55)."""
    del now  # the career answer does not depend on the hour; kept for a uniform signature

    def normal() -> SimulatorAnswer:
        entry = next((career for career in dataset.careers if career.ssin == ssin), None)
        if entry is None:
            return _career_result(ResultCode.NO_DATA_FOR_PERSON)
        career = _career(dataset, entry, period)
        if career is None:
            return _career_result(ResultCode.NO_DATA_FOR_PERIOD)
        return _xml(envelope(career_response(ResultCode.OK, career)), ResultCode.OK)

    behaviour = behaviour_for(dataset, ssin, Operation.CONSULT_CAREER)
    return misbehave(behaviour, _final_statuses(_career_result), _FINAL_FAULT, normal)


def _quarters_between(
    entries: list[ContributionEntry], begin: str, end: str | None
) -> list[ContributionEntry]:
    first, last = Quarter.parse(begin), None if end is None else Quarter.parse(end)
    return [
        entry
        for entry in entries
        if first <= Quarter.parse(entry.quarter)
        and (last is None or Quarter.parse(entry.quarter) <= last)
    ]


def answer_contributions(
    dataset: Dataset, ssin: str, begin: str, end: str | None, now: datetime
) -> SimulatorAnswer:
    """INASTI's answer to consultContributions for quarters `begin` … `end` (R-36, R-64)."""

    def normal() -> SimulatorAnswer:
        known = [entry for entry in dataset.contributions if entry.ssin == ssin]
        if not known:
            return _contributions_result(ResultCode.NO_DATA_FOR_PERSON)
        selected = sorted(
            _quarters_between(known, begin, end), key=lambda e: Quarter.parse(e.quarter)
        )
        if not selected:
            return _contributions_result(ResultCode.NO_DATA_FOR_PERIOD)
        unavailable = _unavailable_funds(dataset, Operation.CONSULT_CONTRIBUTIONS, now)
        if any(entry.fund in unavailable for entry in selected):
            return _contributions_result(ResultCode.FUND_TIMEOUT)
        payments = [_payment(dataset, entry) for entry in selected]
        return _xml(envelope(contributions_response(ResultCode.OK, payments)), ResultCode.OK)

    behaviour = behaviour_for(dataset, ssin, Operation.CONSULT_CONTRIBUTIONS)
    return misbehave(behaviour, _final_statuses(_contributions_result), _FINAL_FAULT, normal)


def read_request(body: bytes, schema: ProtocolSchema) -> etree._Element | SimulatorAnswer:
    """The Body element of a raw request valid against `schema`, or the Client SOAP Fault for
    a body that is not one (both protocols)."""
    try:
        payload = body_payload(parse_document(body))
    except ProtocolError as exc:
        return soap_fault_answer("Client", str(exc)[:200], "client_fault")
    error = schema.error(payload)
    if error is not None:
        return soap_fault_answer("Client", f"invalid request: {error}"[:200], "client_fault")
    return payload


def answer_request(dataset: Dataset, body: bytes, now: datetime) -> SimulatorAnswer:
    """The answer to one raw request body; a Client SOAP Fault for one it cannot read."""
    payload = read_request(body, SCHEMA)
    if isinstance(payload, SimulatorAnswer):
        return payload
    if payload.tag == CAREER_REQUEST:
        ssin, period = read_career_request(payload)
        return answer_career(dataset, ssin, period, now)
    if payload.tag == CONTRIBUTIONS_REQUEST:
        ssin, begin, end = read_contributions_request(payload)
        return answer_contributions(dataset, ssin, begin, end, now)
    return soap_fault_answer("Client", "not a request of this service", "client_fault")


def request_ssin_tag(body: bytes) -> str:
    """For logs: the hashed NISS of a request body, or '-' when it cannot be read."""
    try:
        payload = body_payload(parse_document(body))
        ssin = payload.findtext("ssin") or payload.findtext("SSIN")  # final phase or L302
    except ProtocolError:
        return "-"
    return "-" if not ssin else ssin_tag(ssin)


# --- clock --------------------------------------------------------------------------------


def simulator_clock(settings: SimulatorSettings) -> Callable[[], datetime]:
    """The simulator's clock: fixed at `settings.clock` (ISO datetime) or real time (UTC)."""
    if settings.clock is None:
        return lambda: datetime.now(UTC)
    fixed = datetime.fromisoformat(settings.clock)  # a bad value fails at start-up
    return lambda: fixed


# --- Twisted ------------------------------------------------------------------------------

# Answers remembered by the resource (request body and minute); then forgotten all at once.
MEMO_ENTRIES = 4096


def is_l302_request(request: Request) -> bool:
    """Whether the request's path ends in `/L302` (the transitional-phase protocol, R-60)."""
    segments = [*(request.prepath or []), *(request.postpath or [])]
    return bool(segments) and segments[-1] == L302_SEGMENT


class InastiSimulatorResource(Resource):
    """The simulator's one HTTP resource: POST only (Twisted answers 405 to other methods).

    A path ending in `/L302` gets the L302 protocol (with `l302_mapping`; without one, a
    Server SOAP Fault), any other path INASTI's final-phase protocol. A delayed answer
    (`slow`, `latency_ms`) waits on the reactor's clock, not on a thread, and is dropped if
    the client goes away first.
    """

    isLeaf = True

    def __init__(
        self,
        dataset: Dataset,
        settings: SimulatorSettings,
        clock: IReactorTime,
        now: Callable[[], datetime] | None = None,
        *,
        l302_mapping: L302Mapping | None = None,
    ) -> None:
        super().__init__()
        self._dataset = dataset
        self._l302_mapping = l302_mapping
        self._latency = settings.latency_ms / 1000
        self._clock = clock
        self._now = now or simulator_clock(settings)
        self._memo: dict[tuple[bool, bytes, datetime], tuple[SimulatorAnswer, str]] = {}

    def render_POST(self, request: Request) -> bytes | int:
        body = _read_request_body(request)
        if body is None:
            answer = soap_fault_answer("Client", "request too large", "client_fault")
            who = "-"
        else:
            answer, who = self._remembered(request, body)
        delay = answer.delay_seconds + self._latency
        logger.info(
            "INASTI simulator%s: %r for %s -> %s (HTTP %d, delay %.3fs)",
            " (L302)" if is_l302_request(request) else "",
            (request.getHeader("SOAPAction") or "-")[:100],  # client text: bounded, quoted
            who,
            answer.outcome,
            answer.status,
            delay,
        )
        if delay <= 0:
            return _start_answer(request, answer)
        self._answer_later(request, answer, delay)
        return NOT_DONE_YET

    def _remembered(self, request: Request, body: bytes) -> tuple[SimulatorAnswer, str]:
        """The answer and the hashed NISS for the log, computed once per request body and
        minute: an answer depends on nothing else (fund windows are in whole minutes), and
        the simulator shares the benchmark's cores with the gateway it serves."""
        now = self._now().replace(second=0, microsecond=0)
        key = (is_l302_request(request), body, now)
        remembered = self._memo.get(key)
        if remembered is None:
            remembered = (self._answer(request, body, now), request_ssin_tag(body))
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[key] = remembered
        return remembered

    def _answer(self, request: Request, body: bytes, now: datetime) -> SimulatorAnswer:
        if not is_l302_request(request):
            return answer_request(self._dataset, body, now)
        if self._l302_mapping is None:
            return soap_fault_answer(
                "Server", "L302 is not configured on this simulator (no mapping)", "no_l302"
            )
        # Imported here: the L302 simulator builds on this module's answers.
        from selfemployed_gateway.simulator.l302 import answer_l302

        return answer_l302(self._dataset, self._l302_mapping, body, now)

    def _answer_later(self, request: Request, answer: SimulatorAnswer, delay: float) -> None:
        pending: Deferred[None] = deferLater(self._clock, delay, _finish_answer, request, answer)
        # The client gave up (e.g. the gateway's time budget): no answer to send any more.
        request.notifyFinish().addErrback(lambda _failure: pending.cancel())
        pending.addErrback(_ignore_cancellation)


def _read_request_body(request: Request) -> bytes | None:
    """The request body, or None when it is larger than MAX_REQUEST_BYTES."""
    content = request.content
    if content is None:
        return b""
    body = content.read(MAX_REQUEST_BYTES + 1)
    return None if len(body) > MAX_REQUEST_BYTES else body


def _start_answer(request: Request, answer: SimulatorAnswer) -> bytes:
    request.setResponseCode(answer.status)
    request.setHeader(b"Content-Type", answer.content_type.encode("ascii"))
    return answer.body


def _finish_answer(request: Request, answer: SimulatorAnswer) -> None:
    request.write(_start_answer(request, answer))
    request.finish()


def _ignore_cancellation(failure: Failure) -> None:
    failure.trap(CancelledError)
    logger.info("INASTI simulator: client went away before a delayed answer")


def simulator_l302_mapping(settings: SimulatorSettings) -> L302Mapping | None:
    """The L302 mapping the simulator serves L302 with (R-60, R-63).

    `settings.l302_mapping` when set (it must load: `L302MappingError` otherwise); else
    `l302-mapping.toml` beside the dataset, or None (L302 disabled, with a warning) when
    there is no such file.
    """
    if settings.l302_mapping is not None:
        return load_l302_mapping(settings.l302_mapping)
    default = Path(settings.dataset).parent / DEFAULT_L302_MAPPING
    if not default.is_file():
        logger.warning(
            "INASTI simulator: no L302 mapping (%s); L302 requests get a SOAP Fault", default
        )
        return None
    return load_l302_mapping(default)


def build_simulator_site(
    dataset: Dataset, settings: SimulatorSettings, clock: IReactorTime | None = None
) -> Site:
    """The simulator as a Twisted site; `clock` defaults to the global reactor.

    Loads the L302 mapping (`simulator_l302_mapping`): a broken one fails here, at start-up.
    """
    if clock is None:
        from twisted.internet import reactor as global_reactor

        clock = global_reactor
    mapping = simulator_l302_mapping(settings)
    site = Site(InastiSimulatorResource(dataset, settings, clock, l302_mapping=mapping))
    site.displayTracebacks = False
    site.noisy = False
    return site


def listen_simulator(reactor: Any, dataset: Dataset, settings: SimulatorSettings) -> IListeningPort:
    """Serve the simulator over plain HTTP on `settings.listen` (port 0: any free port).

    `reactor` is typed Any as elsewhere in the project: Twisted's zope interfaces
    (IReactorTCP + IReactorTime) do not type-check without the mypy-zope plugin.
    """
    site = build_simulator_site(dataset, settings, clock=reactor)
    listening = reactor.listenTCP(settings.listen.port, site, interface=settings.listen.host)
    logger.info(
        "INASTI simulator listening on http://%s:%d/ (L302: any path ending in /L302)",
        settings.listen.host,
        listening.getHost().port,
    )
    port: IListeningPort = listening
    return port
