"""The built-in INASTI simulator's L302 endpoint: the dataset's careers served as L302.

It plays INASTI's old flow L302 (`suppliers/l302/protocol.py`) for the
transitional phase (R-60, R-63), on the path ``/inasti/L302`` of the simulator:

* The answer holds one career line per dataset segment overlapping the asked period by at
  least one day (R-55; an open end has no upper bound), in the dataset's order, with the
  affiliation's fund as SIFCode. Dates on a month boundary are written at month granularity
  (``YYYY-MM``), as L302 does, so that readers of month dates are exercised.
* AttestationID: the career's nisseReference with its ``RGTI`` prefix replaced by ``L302``;
  SelfEmployedCBENumber: the career's enterprise number. No occupation, no signature date.
* The category letter comes from the segment's contribution code and the assimilation code
  from its equality code, through the reverse look-ups of the L302 mapping. A code with no
  reverse is a simulator configuration error: HTTP 500 with a Server SOAP Fault.
* Unknown person: Refusal NOT_FOUND; known but nothing overlaps: an L302 without career line.
* `simulator_behaviours` that apply to consultCareer: `under_investigation` (Refusal
  UNDER_INVESTIGATION), `soap_fault` (HTTP 500 with a SOAP Fault), `garbage` (HTTP 200, not
  XML), `slow` (a normal answer after `delay_seconds`). `fund_timeout` does not exist in L302
  (RGTI does not ask the funds): such a person gets the normal answer.

`answer_l302` is pure: it says what to send and after which delay; the Twisted resource
(`resource.py`) sends it. Logs never show a NISS in clear.
"""

from __future__ import annotations

from datetime import datetime

from selfemployed_gateway.dataset import CareerEntry, Dataset, SegmentEntry
from selfemployed_gateway.errors import GatewayError
from selfemployed_gateway.records import DatePeriod, Operation
from selfemployed_gateway.simulator.answers import (
    SimulatorAnswer,
    behaviour_for,
    misbehave,
    read_request,
    soap_fault_answer,
)
from selfemployed_gateway.suppliers.l302.mapping import L302Mapping
from selfemployed_gateway.suppliers.l302.protocol import (
    REQUEST,
    SCHEMA,
    Attestation,
    CareerLine,
    Refusal,
    ReturnCode,
    l302_response,
    read_l302_request,
)
from selfemployed_gateway.suppliers.soap11 import envelope

_REFUSAL_TEXTS = {
    ReturnCode.NOT_FOUND: "Person unknown in the RGTI repertory",
    ReturnCode.UNDER_INVESTIGATION: "File under investigation.",
}


class _Unmapped(GatewayError):
    """A dataset code with no L302 counterpart in the mapping."""


def attestation_id(nisse_reference: str) -> str:
    """The L302 AttestationID of a dataset career: `RGTI…` becomes `L302…`."""
    if nisse_reference.startswith("RGTI"):
        return "L302" + nisse_reference[len("RGTI") :]
    return nisse_reference


def _line(mapping: L302Mapping, fund: str, segment: SegmentEntry) -> CareerLine:
    letter = mapping.letter_for(segment.contribution)
    if letter is None:
        raise _Unmapped(f"contribution {segment.contribution} has no L302 category")
    assimilation = None
    if segment.equality is not None:
        assimilation = mapping.assimilation_for(segment.equality)
        if assimilation is None:
            raise _Unmapped(f"equality {segment.equality} has no L302 assimilation code")
    return CareerLine(
        sif_code=fund,
        begin=segment.begin,
        end=segment.end,
        category=letter,
        assimilation=assimilation,
    )


def attestation(mapping: L302Mapping, entry: CareerEntry, period: DatePeriod) -> Attestation:
    """The L302 attestation of a dataset career, restricted to `period` (R-55)."""
    lines = tuple(
        _line(mapping, affiliation.fund, segment)
        for affiliation in entry.affiliations
        for segment in affiliation.segments
        if DatePeriod(begin=segment.begin, end=segment.end).overlaps(period)
    )
    return Attestation(
        attestation_id=attestation_id(entry.nisseReference),
        enterprise_number=entry.selfEmployedEnterpriseNumber,
        lines=lines,
    )


def _xml(answer: Attestation | Refusal, outcome: str) -> SimulatorAnswer:
    return SimulatorAnswer(
        status=200, body=envelope(l302_response(answer, months=True)), outcome=outcome
    )


def _refusal(code: ReturnCode) -> SimulatorAnswer:
    return _xml(Refusal(return_code=code.value, description=_REFUSAL_TEXTS[code]), code.value)


def _normal(
    dataset: Dataset, mapping: L302Mapping, ssin: str, period: DatePeriod
) -> SimulatorAnswer:
    entry = next((career for career in dataset.careers if career.ssin == ssin), None)
    if entry is None:
        return _refusal(ReturnCode.NOT_FOUND)
    try:
        found = attestation(mapping, entry, period)
    except _Unmapped as exc:
        return soap_fault_answer("Server", f"L302 simulator: {exc}", "unmapped")
    return _xml(found, "L302" if found.lines else "L302_NO_LINE")


def answer_l302_career(
    dataset: Dataset, mapping: L302Mapping, ssin: str, period: DatePeriod, now: datetime
) -> SimulatorAnswer:
    """INASTI's L302 answer for `ssin` over `period`, behaviours applied (R-22, R-65)."""
    del now  # the answer does not depend on the hour; kept for a uniform signature
    # fund_timeout has no L302 status: RGTI does not ask the funds (answered normally).
    return misbehave(
        behaviour_for(dataset, ssin, Operation.CONSULT_CAREER),
        {"under_investigation": lambda: _refusal(ReturnCode.UNDER_INVESTIGATION)},
        "Internal error at INASTI L302 (simulated)",
        lambda: _normal(dataset, mapping, ssin, period),
    )


def answer_l302(
    dataset: Dataset, mapping: L302Mapping, body: bytes, now: datetime
) -> SimulatorAnswer:
    """The answer to one raw L302 request body; a Client SOAP Fault for one it cannot read."""
    payload = read_request(body, SCHEMA)
    if isinstance(payload, SimulatorAnswer):
        return payload
    if payload.tag != REQUEST:
        return soap_fault_answer("Client", "not an L302 request", "client_fault")
    ssin, period = read_l302_request(payload)
    return answer_l302_career(dataset, mapping, ssin, period, now)
