"""The SOAP endpoint: one request body in, one HTTP answer out, whatever the body holds.

Order (SPEC-DIGEST §3): read the envelope (R-10), check the SOAPAction (R-80), validate the
payload against the XSD (R-10), then let spyne deserialise it and dispatch it to its
operation, then await the pipeline (R-11 … R-25). Every fault is written by `faults.py`; an
unexpected error is MSG00003, logged with its ticketCBSS, never shown to the client (R-26).
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree
from spyne import MethodContext
from spyne.server import ServerBase

from selfemployed_gateway import codes
from selfemployed_gateway.clock import Clock, wire_timestamp
from selfemployed_gateway.pipeline import Pipeline
from selfemployed_gateway.records import (
    ClientCertificate,
    ConsultRequest,
    ExchangeTrace,
    GatewayFault,
    Operation,
)
from selfemployed_gateway.soap import envelope, faults, mapping, writer
from selfemployed_gateway.soap.service import build_application, quiet_spyne_logs
from selfemployed_gateway.stages.validation import SchemaValidator
from selfemployed_gateway.xmlsafe import hardened_parser

log = logging.getLogger(__name__)

SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass(frozen=True)
class SoapAnswer:
    status: int
    body: bytes
    content_type: str = SOAP_CONTENT_TYPE


@dataclass
class _Exchange:
    """One request as seen by the spyne operation (`ctx.udc`)."""

    endpoint: SoapEndpoint
    trace: ExchangeTrace
    certificate: ClientCertificate | None
    fault: GatewayFault | None = None
    request: ConsultRequest | None = None

    def received(self, operation: Operation, request: Any) -> None:
        """Called by the spyne operation with the deserialised request."""
        record = mapping.to_request(operation, request)
        self.trace.client_ticket = record.customer_ticket
        self.trace.legal_context = record.legal_context
        self.request = record

    def internal_error(self, error: Exception) -> GatewayFault:
        return self.endpoint.internal_error(self.trace, error)


class SoapEndpoint(ServerBase):
    """Drives spyne directly on an envelope that was already parsed and validated."""

    transport = "http://schemas.xmlsoap.org/soap/http"

    def __init__(
        self,
        pipeline: Pipeline,
        schema: SchemaValidator,
        customer_schema: SchemaValidator,
        clock: Clock,
        *,
        validate_responses: bool = False,
    ) -> None:
        quiet_spyne_logs()
        super().__init__(build_application())
        self.pipeline = pipeline
        self.schema = schema
        self.customer_schema = customer_schema
        self.validate_responses = validate_responses
        self.clock = clock

    def begin(self) -> ExchangeTrace:
        """A new exchange: its ticketCBSS and reception time (R-53)."""
        return ExchangeTrace(ticket_cbss=str(uuid.uuid4()), received=self.clock.now())

    async def handle(
        self,
        body: bytes,
        soap_action: str | None,
        certificate: ClientCertificate | None,
        trace: ExchangeTrace | None = None,
        content_type: str | None = None,
    ) -> tuple[SoapAnswer, ExchangeTrace]:
        trace = trace or self.begin()
        root: etree._Element | None = None
        payload: etree._Element | None = None
        # A wrong Content-Type wins, but the body is still read (safely) to choose the fault
        # element and copy a readable informationCustomer (§8, §10).
        refusal = _refusal(envelope.check_content_type, content_type)
        try:
            root = envelope.parse_request(body)
            request = envelope.open_envelope(root)
            payload = request.payload
            trace.operation = request.operation
            if refusal is not None:
                raise refusal
            envelope.check_soap_action(soap_action, request.operation)
            self.schema.validate(payload)
            return await self._answer(request, certificate, trace), trace
        except GatewayFault as fault:
            answered = refusal if refusal is not None else fault
            return self.fault_answer(answered, trace, root, payload), trace
        except Exception as error:
            internal = self.internal_error(trace, error)
            return self.fault_answer(internal, trace, root, payload), trace

    def internal_error(self, trace: ExchangeTrace, error: Exception) -> GatewayFault:
        log.error("internal error", exc_info=error, extra={"ticketCBSS": trace.ticket_cbss})
        return GatewayFault(codes.INTERNAL_ERROR)

    async def _answer(
        self,
        request: envelope.RequestEnvelope,
        certificate: ClientCertificate | None,
        trace: ExchangeTrace,
    ) -> SoapAnswer:
        consult = self._dispatch(request, certificate, trace)
        reply = await self.pipeline.consult(consult, certificate, trace)
        trace.outcome = reply.status.code
        body = writer.response_envelope(
            request.operation, request.payload, reply, self._information_cbss(trace)
        )
        if self.validate_responses:
            self._check_response(body)
        return SoapAnswer(200, body)

    def _dispatch(
        self,
        request: envelope.RequestEnvelope,
        certificate: ClientCertificate | None,
        trace: ExchangeTrace,
    ) -> ConsultRequest:
        """Spyne: the operation named by the Body element, its request deserialised."""
        protocol = self.app.in_protocol
        ctx = MethodContext(self, MethodContext.SERVER)
        ctx.in_document = (request.envelope, {})
        protocol.decompose_incoming_envelope(ctx, protocol.REQUEST)
        method_ctx = protocol.generate_method_contexts(ctx)[0]
        exchange = _Exchange(self, trace, certificate)
        method_ctx.udc = exchange
        self.get_in_object(method_ctx)
        if method_ctx.in_error is not None:
            raise RuntimeError(f"spyne could not read a valid request: {method_ctx.in_error}")
        self.get_out_object(method_ctx)
        if exchange.fault is not None:
            raise exchange.fault
        if method_ctx.out_error is not None or exchange.request is None:
            raise RuntimeError(f"spyne failed: {method_ctx.out_error}")
        return exchange.request

    def _information_cbss(self, trace: ExchangeTrace) -> etree._Element:
        """R-53: filled by the gateway, whatever the client sent."""
        return faults.information_cbss(
            trace.ticket_cbss,
            wire_timestamp(trace.received),
            wire_timestamp(self.clock.now()),
        )

    def _check_response(self, body: bytes) -> None:
        """Tests and acceptance: every emitted response must conform to the contract."""
        root = etree.fromstring(body, hardened_parser())
        payload = root[0][0]
        error = self.schema.first_error(payload)
        if error is not None:
            raise RuntimeError(f"the response breaks the contract: {error}")

    def fault_answer(
        self,
        fault: GatewayFault,
        trace: ExchangeTrace,
        root: etree._Element | None = None,
        payload: etree._Element | None = None,
    ) -> SoapAnswer:
        """The fault envelope of `fault` for this exchange (§8)."""
        trace.outcome = fault.code.code
        operation = trace.operation or envelope.operation_guess(root)
        cbss = self._information_cbss(trace)
        body = faults.fault_envelope(fault, operation, self._readable_customer(payload), cbss)
        return SoapAnswer(500, body)

    def _readable_customer(self, payload: etree._Element | None) -> etree._Element | None:
        """§8: informationCustomer is copied into a fault when it could be read."""
        if payload is None:
            return None
        found = payload.find("informationCustomer")
        if found is None:
            return None
        candidate = copy.deepcopy(found)
        if self.customer_schema.first_error(candidate) is not None:
            return None
        return candidate


def _refusal(check: Callable[[str | None], None], value: str | None) -> GatewayFault | None:
    try:
        check(value)
    except GatewayFault as fault:
        return fault
    return None
