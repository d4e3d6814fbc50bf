"""The SOAP endpoint: one incoming call in, one HTTP answer out, whatever the body holds.

Order (specification §3): read the envelope (R-10), check the SOAPAction (R-80), validate the
payload against the XSD (R-10), let spyne read it into a record (`reader.py`), then await
the pipeline (R-11 … R-25) and write its reply (`writer.py`). Every fault is written by
`faults.py`; an unexpected error is MSG00003, logged with its ticketCBSS, never shown to the
client (R-26).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.clock import Clock, wire_timestamp
from selfemployed_gateway.decisions import DecisionTrail, Fact
from selfemployed_gateway.pipeline import Pipeline
from selfemployed_gateway.records import ClientCertificate, ExchangeTrace, GatewayFault
from selfemployed_gateway.soap import envelope, faults, whitespace, writer
from selfemployed_gateway.soap.contract import Contract
from selfemployed_gateway.soap.reader import RequestReader
from selfemployed_gateway.stages import authorisation
from selfemployed_gateway.xmlsafe import XmlLimits, XmlSchema, thread_parser

log = logging.getLogger(__name__)

SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"


@dataclass(frozen=True)
class IncomingCall:
    """One SOAP call as the HTTP edge received it: built once there, read everywhere after."""

    body: bytes
    soap_action: str | None = None
    content_type: str | None = None
    certificate: ClientCertificate | None = None


@dataclass(frozen=True)
class SoapAnswer:
    status: int
    body: bytes
    content_type: str = SOAP_CONTENT_TYPE
    retry_after: int | None = None  # seconds, for a refusal of R-28


@dataclass
class _Received:
    """What could be read of a call's body, filled in as reading goes on: a fault uses what
    is there (root: the fault element's operation; payload: the informationCustomer)."""

    root: etree._Element | None = None
    request: envelope.RequestEnvelope | None = None
    read: envelope.RequestEnvelope | None = None  # the request, values collapsed


class SoapEndpoint:
    """The SOAP edge of the pipeline: holds the reader, the contract's schemas and the pipeline."""

    def __init__(
        self,
        pipeline: Pipeline,
        contract: Contract,
        clock: Clock,
        *,
        validate_responses: bool = False,
        xml_limits: XmlLimits = envelope.DEFAULT_LIMITS,
    ) -> None:
        self.pipeline = pipeline
        self.clock = clock
        self.validate_responses = validate_responses
        self.xml_limits = xml_limits
        self.reader = RequestReader()
        self.schema = XmlSchema.from_file(contract.service_xsd)
        # §8: the request's informationCustomer goes into a fault only when it is valid.
        self.customer_schema = XmlSchema.for_common_element(
            contract.common_xsd, "informationCustomer", "InformationCustomerType"
        )

    async def answer(self, call: IncomingCall, trace: ExchangeTrace) -> SoapAnswer:
        """The answer to `call`; what the exchange learns goes into `trace`."""
        received = _Received()
        # A wrong Content-Type wins, but the body is still read (safely) to choose the fault
        # element and copy a readable informationCustomer (§8, §10).
        refusal = _refusal(envelope.check_content_type, call.content_type)
        try:
            request, read = self._receive(call, trace, received)
            if refusal is not None:
                raise refusal
            envelope.check_must_understand(request)
            envelope.check_soap_action(call.soap_action, request.operation)
            self._validate(read.payload)
            return await self._answer(request, read, call.certificate, trace)
        except GatewayFault as fault:
            return self._fault(refusal if refusal is not None else fault, trace, received)
        except Exception as error:
            return self._fault(self.internal_error(trace, error), trace, received)

    def _receive(
        self, call: IncomingCall, trace: ExchangeTrace, received: _Received
    ) -> tuple[envelope.RequestEnvelope, envelope.RequestEnvelope]:
        """Parse and open the envelope (R-10, R-80), collapse its values where their type
        says so (R-10); `received` keeps what was read if a step raises."""
        received.root = envelope.parse_request(call.body, self.xml_limits)
        request = received.request = envelope.open_envelope(received.root)
        trace.operation = request.operation
        read = received.read = whitespace.collapsed(request)
        return request, read

    def client_of(self, certificate: ClientCertificate | None) -> str | None:
        """The client id the certificate names in the annex in force, if exactly one."""
        return authorisation.client_id_of(self.pipeline.annex, certificate)

    def refuse(self, call: IncomingCall, fault: GatewayFault, trace: ExchangeTrace) -> SoapAnswer:
        """`fault` as the answer to `call`, whatever its body (e.g. MSG00003 when the audit
        write failed). The envelope is read only to choose the fault element and to copy a
        readable informationCustomer, as for every fault (§8)."""
        received = _Received()
        with contextlib.suppress(GatewayFault):  # what could be read is used either way
            self._receive(call, trace, received)
        return self._fault(fault, trace, received)

    def internal_error(self, trace: ExchangeTrace, error: Exception) -> GatewayFault:
        """R-26: MSG00003, the error logged with the ticketCBSS, never shown to the client."""
        log.error("internal error", exc_info=error, extra={"ticketCBSS": trace.ticket_cbss})
        trace.decisions.answered(
            "internal error",
            "R-26",
            because="an unexpected error in the gateway, logged with this ticketCBSS: not the "
            "caller's doing; the same request may succeed later",
            error=type(error).__name__,
        )
        return GatewayFault(codes.INTERNAL_ERROR)

    def _validate(self, payload: etree._Element) -> None:
        """R-10: MSG00004 with the schema error when the payload breaks the contract."""
        error = self.schema.first_error(payload)
        if error is not None:
            raise faults.invalid_structure(error.message)

    async def _answer(
        self,
        request: envelope.RequestEnvelope,
        read: envelope.RequestEnvelope,
        certificate: ClientCertificate | None,
        trace: ExchangeTrace,
    ) -> SoapAnswer:
        """`read` is what spyne reads (values collapsed); the response copies `request`."""
        consult = self.reader.read(read.payload, read.operation)
        trace.client_ticket = consult.customer_ticket
        trace.legal_context = consult.legal_context
        trace.ssin = consult.ssin
        reply = await self.pipeline.consult(consult, certificate, trace)
        trace.outcome = reply.status.code
        body = writer.response_envelope(
            request.operation, request.payload, reply, self._information_cbss(trace)
        )
        if self.validate_responses:
            self._check_response(body)
        return SoapAnswer(200, body)

    def _information_cbss(self, trace: ExchangeTrace) -> etree._Element:
        """R-53: filled by the gateway, whatever the client sent."""
        return faults.information_cbss(
            trace.ticket_cbss,
            wire_timestamp(trace.received),
            wire_timestamp(self.clock.now()),
        )

    def _check_response(self, body: bytes) -> None:
        """Tests and acceptance: every emitted response must conform to the contract."""
        root = etree.fromstring(body, thread_parser())
        payload = root[0][0]
        whitespace.collapse(payload)  # the copied blocks are as the client sent them
        error = self.schema.first_error(payload)
        if error is not None:
            raise RuntimeError(f"the response breaks the contract: {error.message}")

    def _fault(self, fault: GatewayFault, trace: ExchangeTrace, received: _Received) -> SoapAnswer:
        """The fault envelope of `fault` for this exchange (§8)."""
        trace.outcome = fault.code.code
        if trace.decisions.deciding is None:  # refused at the edge, before any stage
            explain_edge_fault(fault, trace.decisions)
        operation = trace.operation or envelope.operation_guess(received.root)
        cbss = self._information_cbss(trace)
        customer = self._readable_customer(received)
        if customer is not None and trace.client_ticket is None:
            # Refused before the reader: the client's ticket is what finds this exchange in
            # the trail (a MustUnderstand fault carries no ticketCBSS back, R-27).
            trace.client_ticket = customer.findtext("ticket")
        body = faults.fault_envelope(fault, operation, customer, cbss)
        return SoapAnswer(500, body)

    def _readable_customer(self, received: _Received) -> etree._Element | None:
        """§8: informationCustomer is copied, as sent, into a fault when it could be read
        (checked with its values collapsed, R-10), without xsi:* attributes as in an answer
        (writer.py): copied, an xsi:type's prefix declared on the Envelope would be lost, and
        a valid block would read as invalid and be left out."""
        if received.request is None or received.read is None:
            return None
        found = received.request.payload.find("informationCustomer")
        checked = received.read.payload.find("informationCustomer")
        if found is None or checked is None:
            return None
        if self.customer_schema.first_error(writer.copied_block(checked)) is not None:
            return None
        customer = writer.copied_block(found)
        etree.cleanup_namespaces(customer)  # the xsi declaration its attributes needed
        return customer


# The MSG00004 texts of R-27's envelope rules (soap/envelope.py); the others are R-10's.
_ENVELOPE_RULES = (
    "The envelope must hold one Body",
    "At most one Header",
    "The Header must be the first child",
    "The SOAP Body must hold exactly one",
)


def explain_edge_fault(fault: GatewayFault, trail: DecisionTrail) -> None:
    """A fault answered before the pipeline as the deciding step (issue #18): primary
    validation (R-10), the envelope rules (R-27), or what the pipeline raised unrecorded."""
    facts: dict[str, Fact] = {i.field_name: i.field_value for i in fault.information}
    if fault.code is codes.MUST_UNDERSTAND:
        trail.answered(
            "primary validation",
            "R-27",
            because='a header block is marked mustUnderstand="1" and the gateway processes '
            "no header block: remove the attribute or the block",
            **facts,
        )
    elif fault.code is codes.INVALID_STRUCTURE:
        message = str(facts.get(codes.ERROR_MESSAGE) or "")
        rule = "R-10"
        if message.startswith(_ENVELOPE_RULES):
            rule = "R-27"
        elif message.startswith("SOAPAction "):  # envelope.check_soap_action
            rule = "R-80"
        trail.answered(
            "primary validation",
            rule,
            because="the request breaks the contract as the error message says: fix it; the "
            "same request gets the same answer",
            **facts,
        )
    else:
        trail.answered("fault", because=fault.code.diagnostic, **facts)


def _refusal(check: Callable[[str | None], None], value: str | None) -> GatewayFault | None:
    try:
        check(value)
    except GatewayFault as fault:
        return fault
    return None
