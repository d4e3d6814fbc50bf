"""The SOAP endpoint over the reference dataset, without a server, and one call to it."""

from __future__ import annotations

import asyncio
import uuid
from typing import TypeVar

from selfemployed_gateway.annex import Annex
from selfemployed_gateway.clock import Clock
from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.pipeline import Pipeline
from selfemployed_gateway.records import ClientCertificate, ExchangeTrace
from selfemployed_gateway.registry.sqlite import SqliteRegisters
from selfemployed_gateway.soap.contract import Contract
from selfemployed_gateway.soap.endpoint import IncomingCall, SoapAnswer, SoapEndpoint
from selfemployed_gateway.suppliers import Supplier
from tests.support.paths import PROJECT

CONTRACT = Contract.load(PROJECT / "wsdl" / "SelfEmployedV2.wsdl", PROJECT / "xsd")

_Endpoint = TypeVar("_Endpoint", bound=SoapEndpoint)


def pipeline(
    dataset: Dataset, registers: SqliteRegisters, supplier: Supplier, clock: Clock
) -> Pipeline:
    return Pipeline(
        annex=Annex.from_dataset(dataset),
        register=registers,
        repertory=registers,
        supplier=supplier,
        clock=clock,
    )


def soap_endpoint(
    dataset: Dataset,
    registers: SqliteRegisters,
    supplier: Supplier,
    clock: Clock,
    *,
    validate_responses: bool = True,
    kind: type[_Endpoint] = SoapEndpoint,  # type: ignore[assignment]
) -> _Endpoint:
    """An endpoint as the gateway builds it; every response checked against the contract."""
    return kind(
        pipeline(dataset, registers, supplier, clock),
        CONTRACT,
        clock,
        validate_responses=validate_responses,
    )


def answer(
    endpoint: SoapEndpoint,
    body: bytes,
    soap_action: str | None = None,
    certificate: ClientCertificate | None = None,
    content_type: str | None = None,
) -> tuple[SoapAnswer, ExchangeTrace]:
    """One call answered by `endpoint`, and the trace of its exchange."""
    trace = ExchangeTrace(ticket_cbss=str(uuid.uuid4()), received=endpoint.clock.now())
    call = IncomingCall(body, soap_action, content_type, certificate)
    return asyncio.run(endpoint.answer(call, trace)), trace
