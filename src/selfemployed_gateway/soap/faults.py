"""SOAP 1.1 faults exactly as specification §8: HTTP 500, faultactor, `<op>Fault` detail.

Every fault of the gateway is written here, whatever stage raised it; the MSG00004 fault of
the SOAP edge (R-10) is built here too.
"""

from __future__ import annotations

from lxml import etree
from lxml.builder import ElementMaker

from selfemployed_gateway import codes
from selfemployed_gateway.namespaces import SERVICE, SOAP_ENV, fault_element
from selfemployed_gateway.records import GatewayFault, Operation, information

_SOAP = ElementMaker(namespace=SOAP_ENV, nsmap={"soapenv": SOAP_ENV})
_PLAIN = ElementMaker()

# fieldValue is at most 256 characters (common:InformationType).
_MAX_FIELD_VALUE = 256


def invalid_structure(message: str) -> GatewayFault:
    """R-10: fault MSG00004 carrying `message` as the `error message` information."""
    return GatewayFault(
        codes.INVALID_STRUCTURE,
        information(codes.ERROR_MESSAGE, message[:_MAX_FIELD_VALUE]),
    )


def information_cbss(ticket: str, received: str, replied: str) -> etree._Element:
    """R-53's block; in every answer, so built with plain SubElement calls (ElementMaker's
    generic argument handling cost 70 µs of the 80 here, issue #17)."""
    block = etree.Element("informationCBSS")
    etree.SubElement(block, "ticketCBSS").text = ticket
    etree.SubElement(block, "timestampReceive").text = received
    etree.SubElement(block, "timestampReply").text = replied
    return block


def fault_envelope(
    fault: GatewayFault,
    operation: Operation,
    information_customer: etree._Element | None,
    cbss: etree._Element,
) -> bytes:
    """The whole response envelope of `fault` (§8; R-27 for SOAP's own faults)."""
    code = fault.code
    if not code.detail:
        return _envelope(_soap_fault(code.origin.value, _faultstring(fault)))
    detail = _PLAIN.detail(
        _PLAIN.severity(code.severity.value),
        _PLAIN.reasonCode(code.code),
        _PLAIN.diagnostic(code.diagnostic),
        _PLAIN.authorCode(codes.AUTHOR_CODE),
        *(
            _PLAIN.information(_PLAIN.fieldName(i.field_name), _PLAIN.fieldValue(i.field_value))
            for i in fault.information
        ),
    )
    fault_detail = etree.Element(fault_element(operation), nsmap={"ses": SERVICE})
    if information_customer is not None:
        fault_detail.append(information_customer)
    fault_detail.append(cbss)
    fault_detail.append(detail)
    return _envelope(_soap_fault(code.origin.value, code.faultstring, _PLAIN.detail(fault_detail)))


def _faultstring(fault: GatewayFault) -> str:
    """The diagnostic, followed by what the information names (e.g. the header block)."""
    named = ", ".join(i.field_value for i in fault.information if i.field_value)
    return f"{fault.code.diagnostic}: {named}" if named else fault.code.diagnostic


def _soap_fault(faultcode: str, faultstring: str, *detail: etree._Element) -> etree._Element:
    return _SOAP.Fault(
        _PLAIN.faultcode(faultcode),
        _PLAIN.faultstring(faultstring),
        _PLAIN.faultactor(codes.FAULT_ACTOR),
        *detail,
    )


def _envelope(fault: etree._Element) -> bytes:
    envelope = _SOAP.Envelope(_SOAP.Body(fault))
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))
