"""The built-in INASTI simulator, final-phase protocol: the reference dataset as INASTI's
SelfEmployedService v1 answers it (`suppliers/final/protocol.py`).

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

The answers are pure functions (`answer_career`, `answer_contributions`, `answer_request`)
that say what to send and after which delay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import (
    AffiliationEntry,
    CareerEntry,
    ContributionEntry,
    Dataset,
    FundAvailability,
    LocalizedTexts,
    SegmentEntry,
)
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
from selfemployed_gateway.simulator.answers import (
    SimulatorAnswer,
    behaviour_for,
    misbehave,
    read_request,
    soap_fault_answer,
)
from selfemployed_gateway.suppliers.final.protocol import (
    CAREER_REQUEST,
    CONTRIBUTIONS_REQUEST,
    SCHEMA,
    ResultCode,
    career_response,
    contributions_response,
    read_career_request,
    read_contributions_request,
)
from selfemployed_gateway.suppliers.soap11 import envelope

_DESCRIPTIONS: Mapping[ResultCode, str] = {
    ResultCode.NO_DATA_FOR_PERSON: "No data for this person",
    ResultCode.NO_DATA_FOR_PERIOD: "No data for this period",
    ResultCode.FUND_TIMEOUT: codes.FUND_TIMEOUT.description,
    ResultCode.UNDER_INVESTIGATION: codes.UNDER_INVESTIGATION.description,
}


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


# --- fund availability -------------------------------------------------------------------


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
