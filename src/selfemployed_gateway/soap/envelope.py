"""Reading a SOAP 1.1 request envelope safely, before anything else looks at it (R-10, R-80).

One hardened parser (`xmlsafe.hardened_parser`) for every document a client sends: no DTD, no entity
expansion, no file or network access, bounded depth and size. Whatever cannot be read as
exactly one known request element in a SOAP 1.1 Body is fault MSG00004 (R-10), never an
internal error and never an echo of anything but the client's own bytes.

What was verified (lxml 6.1 / libxml2 2.14; tests/hostile/ and tests/e2e/test_hostile.py):

- Entities are never expanded (`resolve_entities=False`); a document with a DTD is refused
  after parsing. Billion laughs and quadratic blow-up stop at once on libxml2's entity
  amplification limit (a syntax error, MSG00004).
- `load_dtd=False` and `no_network=True` are NOT enough: libxml2 still opened a local file
  named as the external DTD subset (`<!DOCTYPE r SYSTEM "file:///etc/passwd">`) or as an
  external parameter entity (seen with strace) — a file read on behalf of the client, and an
  event loop that a FIFO or device could block. Every parser therefore carries
  `xmlsafe._NoExternalResources`, which refuses every load of an external resource, whatever the
  parser options say; the refusal is MSG00004.
- Depth: without `huge_tree`, libxml2 refuses more than 256 nested elements ("Excessive
  depth"); text nodes and attribute values are bounded to 10 MB. The HTTP layer already
  bounds the whole body (`gateway.max_request_bytes`, server/channel.py).
- XInclude is never processed (only `xinclude()` would).
- Comments and processing instructions are dropped and CDATA sections become text, so that
  an element's text is one text node: the schema validates the whole value, but spyne reads
  only `element.text`, which a comment would cut short (`<ssin>650315<!---->10159</ssin>`
  was read as "650315": a wrong status, or MSG00003 in a date; found by test_fuzz.py).
- `xsi:schemaLocation` and `xsi:noNamespaceSchemaLocation` are accepted and ignored, as the XSD
  specification allows: the request is validated against the contract's precompiled schema,
  and libxml2 reads schema hints from an instance only when validating without a schema —
  never here (verified with strace: no file opened, no connection made). They are legal in a
  schema-valid document (R-10), so they are not refused.
- UTF-16 (with a byte-order mark) is well-formed XML and is read like UTF-8; invalid bytes
  in the declared encoding are a syntax error (MSG00004).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.namespaces import (
    REQUEST_ELEMENTS,
    SOAP12_ENV,
    SOAP_ENV,
    soap_action,
)
from selfemployed_gateway.records import GatewayFault, Operation, information
from selfemployed_gateway.soap.faults import invalid_structure
from selfemployed_gateway.xmlsafe import (
    ExternalResourceRefused,
    XmlLimitExceeded,
    XmlLimits,
    parse_limited,
)

_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_BODY = f"{{{SOAP_ENV}}}Body"
_HEADER = f"{{{SOAP_ENV}}}Header"
DEFAULT_LIMITS = XmlLimits()


@dataclass(frozen=True)
class RequestEnvelope:
    envelope: etree._Element
    payload: etree._Element
    operation: Operation
    header: etree._Element | None = None


def parse_request(body: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """The envelope element of `body`; MSG00004 when it is not well-formed XML or breaks one
    of the XML threat limits (checked while parsing: an element bomb is refused after the
    first piece that crosses a limit, far cheaper than an exchange)."""
    if not body.strip():
        raise invalid_structure("Empty request: a SOAP 1.1 envelope is expected")
    try:
        # lxml parsers are not thread-safe; one per call is cheap.
        root = parse_limited(body, limits, _HEADER)
    except XmlLimitExceeded as error:
        raise invalid_structure(f"The request exceeds the XML limits: {error}") from error
    except ExternalResourceRefused as error:
        raise invalid_structure(
            "A document type declaration (DTD) is not allowed: external resources are never loaded"
        ) from error
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
    headers = [child for child in parts if child.tag == _HEADER]
    if len(bodies) != 1 or any(p.tag not in (_BODY, _HEADER) for p in parts):
        raise invalid_structure("The envelope must hold one Body (and at most a Header)")
    if len(headers) > 1:
        raise invalid_structure("At most one Header is allowed in a SOAP 1.1 envelope")
    if headers and parts[0] is not headers[0]:
        raise invalid_structure("The Header must be the first child of the Envelope")
    payloads = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(payloads) != 1:
        raise invalid_structure(
            f"The SOAP Body must hold exactly one request element, not {len(payloads)}"
        )
    payload = payloads[0]
    operation = REQUEST_ELEMENTS.get(payload.tag)
    if operation is None:
        raise invalid_structure(f"Unknown request element {payload.tag}")
    return RequestEnvelope(
        envelope=root,
        payload=payload,
        operation=operation,
        header=headers[0] if headers else None,
    )


_MUST_UNDERSTAND = f"{{{SOAP_ENV}}}mustUnderstand"
# SOAP 1.1 writes "1"; stacks that follow SOAP 1.2's xs:boolean write "true".
_MANDATORY = ("1", "true")


def check_must_understand(request: RequestEnvelope) -> None:
    """R-27: the gateway processes no header block, so one marked mustUnderstand is a
    soapenv:MustUnderstand fault; blocks without it (WS-Addressing…) are ignored."""
    if request.header is None:
        return
    for block in request.header:
        if not isinstance(block.tag, str):
            continue
        if (block.get(_MUST_UNDERSTAND) or "").strip() in _MANDATORY:
            raise GatewayFault(
                codes.MUST_UNDERSTAND, information(codes.HEADER, str(block.tag)[:200])
            )


def check_content_type(header: str | None) -> None:
    """SOAP 1.1 travels as `text/xml` (R-01); anything else is MSG00004 (R-10).

    A missing (or empty) Content-Type is accepted: hand-made requests (curl) often have none,
    and the envelope check still applies. `application/soap+xml` is SOAP 1.2's media type and
    gets its own message. Parameters (`charset`) are not checked: the XML declaration or
    byte-order mark decides how the body is decoded, as for any XML document.
    """
    if header is None:
        return
    media_type = header.split(";", 1)[0].strip().lower()
    if not media_type or media_type == "text/xml":
        return
    if media_type == "application/soap+xml":
        raise invalid_structure(
            "Content-Type application/soap+xml is SOAP 1.2, which is not supported: "
            "send a SOAP 1.1 envelope as text/xml"
        )
    raise invalid_structure(
        f"Content-Type {media_type[:80]!r} is not allowed: SOAP 1.1 requests are sent as text/xml"
    )


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
