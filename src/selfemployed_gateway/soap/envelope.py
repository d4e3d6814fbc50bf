"""Reading a SOAP 1.1 request envelope safely, before anything else looks at it (R-10, R-80).

One hardened parser: no DTD, no entities, no network. Whatever cannot be read as exactly one
known request element in a SOAP 1.1 Body is fault MSG00004.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from selfemployed_gateway.records import Operation
from selfemployed_gateway.soap.namespaces import (
    REQUEST_ELEMENTS,
    SOAP12_ENV,
    SOAP_ENV,
    soap_action,
)
from selfemployed_gateway.stages.validation import invalid_structure

_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_BODY = f"{{{SOAP_ENV}}}Body"
_HEADER = f"{{{SOAP_ENV}}}Header"


def hardened_parser() -> etree.XMLParser:
    """A parser that never expands entities, loads a DTD or touches the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )


@dataclass(frozen=True)
class RequestEnvelope:
    envelope: etree._Element
    payload: etree._Element
    operation: Operation


def parse_request(body: bytes) -> etree._Element:
    """The envelope element of `body`; MSG00004 when it is not well-formed XML."""
    if not body.strip():
        raise invalid_structure("Empty request: a SOAP 1.1 envelope is expected")
    try:
        # lxml parsers are not thread-safe; one per call is cheap.
        root = etree.fromstring(body, hardened_parser())
    except etree.XMLSyntaxError as error:
        raise invalid_structure(f"The request is not well-formed XML: {error}") from error
    if root.getroottree().docinfo.doctype:
        raise invalid_structure("A document type declaration (DTD) is not allowed")
    return root


def open_envelope(root: etree._Element) -> RequestEnvelope:
    """The request element of a SOAP 1.1 envelope and the operation it names (R-80)."""
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        raise invalid_structure("SOAP 1.2 is not supported: send a SOAP 1.1 envelope")
    if root.tag != _ENVELOPE:
        raise invalid_structure(f"Not a SOAP 1.1 envelope: root element is {root.tag}")
    parts = [child for child in root if isinstance(child.tag, str)]
    bodies = [child for child in parts if child.tag == _BODY]
    if len(bodies) != 1 or any(p.tag not in (_BODY, _HEADER) for p in parts):
        raise invalid_structure("The envelope must hold one Body (and at most a Header)")
    payloads = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(payloads) != 1:
        raise invalid_structure(
            f"The SOAP Body must hold exactly one request element, not {len(payloads)}"
        )
    payload = payloads[0]
    operation = REQUEST_ELEMENTS.get(payload.tag)
    if operation is None:
        raise invalid_structure(f"Unknown request element {payload.tag}")
    return RequestEnvelope(envelope=root, payload=payload, operation=operation)


def check_soap_action(header: str | None, operation: Operation) -> None:
    """R-80: an empty or absent SOAPAction is accepted; one naming another operation is not."""
    if header is None:
        return
    action = header.strip().strip('"').strip()
    if action and action != soap_action(operation):
        raise invalid_structure(
            f"SOAPAction {action!r} does not match the Body element, "
            f"which asks for {soap_action(operation)!r}"
        )


def operation_guess(root: etree._Element | None) -> Operation:
    """The operation of an unreadable request, for its fault element (§10 [decision])."""
    if root is not None:
        for element in root.iter():
            if isinstance(element.tag, str) and element.tag in REQUEST_ELEMENTS:
                return REQUEST_ELEMENTS[element.tag]
    return Operation.CONSULT_CAREER
