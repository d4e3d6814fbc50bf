"""The final-phase `Supplier`: INASTI's SelfEmployedService v1 over HTTP (R-22, R-61, R-65).

Requests are written and answers read by `protocol.py`; HTTP goes through `SupplierHttp`
(every call cancelled when the time budget is spent, answers over the size cap refused).
Anything but a complete, schema-valid, consistent answer raises `SupplierError` whose
`details` is one of the MSG00002 texts of R-22 (R-66). Timing and logging of the call are the
pipeline's (`stages/supplier_call.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    DatePeriod,
    Operation,
)
from selfemployed_gateway.settings import SupplierSettings
from selfemployed_gateway.suppliers.checks import read_checked, unexpected_response
from selfemployed_gateway.suppliers.final import protocol
from selfemployed_gateway.suppliers.http import SupplierHttp
from selfemployed_gateway.suppliers.soap11 import (
    ProtocolError,
    describe_fault,
    envelope,
    is_fault,
    read_payload,
)

_Answer = TypeVar("_Answer", CareerAnswer, ContributionsAnswer)


class InastiFinalSupplier:
    """The `Supplier` of the final phase; both operations (R-61)."""

    operations = frozenset(Operation)

    def __init__(
        self, settings: SupplierSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._http = SupplierHttp(settings.url, settings, transport=transport)

    async def consult_career(self, ssin: str, period: DatePeriod) -> CareerAnswer:
        """consultCareer at INASTI: segments overlapping `period` (R-55)."""
        return await self._call(
            Operation.CONSULT_CAREER,
            protocol.career_request(ssin, period),
            protocol.CAREER_RESPONSE,
            protocol.read_career_response,
        )

    async def consult_contributions(
        self, ssin: str, begin_quarter: str, end_quarter: str | None
    ) -> ContributionsAnswer:
        """consultContributions at INASTI, which asks the funds concerned (R-64)."""
        return await self._call(
            Operation.CONSULT_CONTRIBUTIONS,
            protocol.contributions_request(ssin, begin_quarter, end_quarter),
            protocol.CONTRIBUTIONS_RESPONSE,
            protocol.read_contributions_response,
        )

    def is_reachable(self) -> bool:
        return self._http.is_reachable()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        operation: Operation,
        request: etree._Element,
        expected: str,
        read: Callable[[etree._Element], _Answer],
    ) -> _Answer:
        answer = await self._http.post(
            protocol.soap_action(operation).strip('"'), envelope(request)
        )
        if answer.status != 200:
            raise _status_error(answer.status, answer.body)
        return _interpret(answer.body, expected, read)


def _status_error(status: int, body: bytes) -> SupplierError:
    """`HTTP <status>`, with the SOAP Fault's code and text when the body is one: then INASTI
    answered (`answered`); any other body (a proxy's error page) is no answer of INASTI's."""
    try:
        payload = read_payload(body)
    except ProtocolError:
        return SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, f"HTTP {status}")
    if is_fault(payload):
        cause = f"HTTP {status}, SOAP Fault {describe_fault(payload)}"
        return SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, cause, answered=True)
    return SupplierError(codes.SUPPLIER_UNEXPECTED_RETURN_CODE, f"HTTP {status}")


def _interpret(body: bytes, expected: str, read: Callable[[etree._Element], _Answer]) -> _Answer:
    """An HTTP 200 body as a record, or SupplierError (R-66: never a partial record)."""
    try:
        payload = read_payload(body)
    except ProtocolError as exc:
        raise unexpected_response(str(exc)) from exc
    if is_fault(payload):
        raise SupplierError(
            codes.SUPPLIER_UNEXPECTED_RETURN_CODE,
            f"SOAP Fault {describe_fault(payload)}",
            answered=True,
        )
    return read_checked(payload, expected, protocol.SCHEMA, read)
