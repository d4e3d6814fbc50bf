"""The transitional-phase `Supplier`: INASTI's L302 over HTTP (R-22, R-60, R-63, R-65).

Requests are written and answers read by `protocol.py`, careers converted by
`conversion.py`; HTTP goes through `SupplierHttp` (`settings.l302_url`: every call cancelled
when the time budget is spent, answers over the size cap refused). Anything but a complete,
schema-valid, fully convertible answer raises `SupplierError` with one of the MSG00002 texts
of R-22, never a half-converted career (R-66). L302 carries no contributions: `operations`
says so, and the pipeline answers MSG00025 before asking (R-60). Timing and logging of the
call are the pipeline's (`stages/supplier_call.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import CodeTables, FundEntry
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    DatePeriod,
    Operation,
    SupplierOutcome,
)
from selfemployed_gateway.settings import SupplierSettings
from selfemployed_gateway.suppliers.checks import read_checked, unexpected_response
from selfemployed_gateway.suppliers.http import HttpAnswer, SupplierHttp
from selfemployed_gateway.suppliers.l302 import protocol
from selfemployed_gateway.suppliers.l302.conversion import L302Conversion
from selfemployed_gateway.suppliers.l302.mapping import L302Mapping
from selfemployed_gateway.suppliers.l302.protocol import L302Answer, Refusal
from selfemployed_gateway.suppliers.soap11 import (
    MAX_CAUSE,
    ProtocolError,
    describe_fault,
    envelope,
    is_fault,
    read_payload,
)


class L302Supplier:
    """The `Supplier` of the transitional phase: consultCareer only (R-60)."""

    operations = frozenset({Operation.CONSULT_CAREER})

    def __init__(
        self,
        settings: SupplierSettings,
        mapping: L302Mapping,
        codes: CodeTables,
        funds: Sequence[FundEntry],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._conversion = L302Conversion(mapping, codes, funds)
        self._http = SupplierHttp(settings.l302_url, settings, transport=transport)

    async def consult_career(self, ssin: str, period: DatePeriod) -> CareerAnswer:
        """L302 at INASTI: the career lines overlapping `period` (R-55), converted (R-63)."""
        request = envelope(protocol.l302_request(ssin, period))
        answer = await self._http.post(protocol.SOAP_ACTION, request)
        found = read_checked(
            _payload(answer), protocol.RESPONSE, protocol.SCHEMA, protocol.read_l302_response
        )
        return self._outcome(found)

    async def consult_contributions(
        self, ssin: str, begin_quarter: str, end_quarter: str | None
    ) -> ContributionsAnswer:
        """Never called: `operations` has no consultContributions (R-60)."""
        raise RuntimeError("L302 carries no contributions: the pipeline answers MSG00025 (R-60)")

    def is_reachable(self) -> bool:
        return self._http.is_reachable()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _outcome(self, answer: L302Answer) -> CareerAnswer:
        if answer is None:
            raise SupplierError(
                codes.SUPPLIER_NO_L302_ELEMENT,
                "L302Response holds neither L302 nor Refusal",
                answered=True,
            )
        if isinstance(answer, Refusal):
            return CareerAnswer(outcome=_refusal_outcome(answer))
        if not answer.lines:
            return CareerAnswer(outcome=SupplierOutcome.NO_DATA_FOR_PERIOD)
        try:
            career = self._conversion.career(answer)
        except (ProtocolError, ValueError) as exc:  # UnmappedCode, or a record refusing a value
            raise unexpected_response(str(exc)) from exc
        return CareerAnswer(outcome=SupplierOutcome.FOUND, career=career)


def _refusal_outcome(refusal: Refusal) -> SupplierOutcome:
    outcome = protocol.REFUSAL_OUTCOMES.get(refusal.return_code)
    if outcome is None:
        cause = f"L302 refusal {refusal.return_code!r}: {refusal.description or ''}"
        raise SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, cause[:MAX_CAUSE], answered=True)
    return outcome


def _payload(answer: HttpAnswer) -> etree._Element:
    """The Body element of an HTTP 200 answer; SupplierError for a SOAP Fault (HTTP 200 or
    500), another status, or a body that is not a SOAP envelope."""
    try:
        payload = read_payload(answer.body)
    except ProtocolError as exc:
        if answer.status == 200:
            raise unexpected_response(str(exc)) from exc
        raise SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, f"HTTP {answer.status}") from exc
    if answer.status in (200, 500) and is_fault(payload):
        raise SupplierError(
            codes.SUPPLIER_L302_SOAP_FAULT,
            f"HTTP {answer.status}, SOAP Fault {describe_fault(payload)}"[:MAX_CAUSE],
            answered=True,
        )
    if answer.status != 200:
        raise SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, f"HTTP {answer.status}")
    return payload
