"""The SOAP 1.1 envelope of INASTI's protocols: write one, read one, recognise a Fault.

Both protocols (final phase and L302) travel in the same envelope; both sides use this
module — the adapters to call INASTI, the built-in simulator to answer. It knows nothing of
what the Body holds (that is each protocol's module) nor of HTTP (`suppliers/http.py`).
Supplier messages are never trusted (R-66): the hardened parser reads them, and anything that
is not one envelope with one Body element is a `ProtocolError`.
"""

from __future__ import annotations

from lxml import etree

from selfemployed_gateway.errors import ExternalResourceRefused, GatewayError
from selfemployed_gateway.namespaces import SOAP_ENV
from selfemployed_gateway.xmlsafe import thread_parser

ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
HEADER = f"{{{SOAP_ENV}}}Header"
BODY = f"{{{SOAP_ENV}}}Body"
FAULT = f"{{{SOAP_ENV}}}Fault"
# SOAP 1.1's media type, both ways.
CONTENT_TYPE = "text/xml; charset=utf-8"
# Supplier texts end up in logs and fault causes: keep them short.
MAX_CAUSE = 200


class ProtocolError(GatewayError):
    """A message that is not a usable message of a supplier protocol (R-66).

    An adapter turns it, like the ValueError of a record that refuses a value, into
    MSG00002 "Unexpected response from supplier".
    """


def parse_document(data: bytes) -> etree._Element:
    """The root element of `data`; ProtocolError when it is not well-formed XML."""
    try:
        root: etree._Element = etree.fromstring(data, thread_parser())
    except ExternalResourceRefused as exc:
        raise ProtocolError("a SOAP message must not load external resources") from exc
    except etree.XMLSyntaxError as exc:
        raise ProtocolError(f"not well-formed XML: {exc}") from exc
    # SOAP 1.1 forbids a DTD; refusing it also keeps unexpanded entities out of the texts.
    if root.getroottree().docinfo.internalDTD is not None:
        raise ProtocolError("a SOAP message must not contain a DOCTYPE")
    return root


def body_payload(root: etree._Element) -> etree._Element:
    """The one element inside the SOAP 1.1 Body of `root` (may be a `soapenv:Fault`)."""
    if root.tag != ENVELOPE:
        raise ProtocolError(f"not a SOAP 1.1 envelope: root element {root.tag}")
    parts = [child for child in root if isinstance(child.tag, str)]
    if parts and parts[0].tag == HEADER:
        parts = parts[1:]
    if len(parts) != 1 or parts[0].tag != BODY:
        raise ProtocolError("the envelope must hold an optional Header and one Body")
    payload = [child for child in parts[0] if isinstance(child.tag, str)]
    if len(payload) != 1:
        raise ProtocolError(f"the Body must hold one element, not {len(payload)}")
    return payload[0]


def read_payload(data: bytes) -> etree._Element:
    """The Body element of a whole message `data`; ProtocolError when there is none."""
    return body_payload(parse_document(data))


def is_fault(payload: etree._Element) -> bool:
    return bool(payload.tag == FAULT)


def describe_fault(payload: etree._Element) -> str:
    """`faultcode: faultstring` of a SOAP Fault, shortened (supplier text, untrusted)."""
    text = f"{payload.findtext('faultcode') or '?'}: {payload.findtext('faultstring') or ''}"
    return text[:MAX_CAUSE]


# The envelope around a serialised payload: the same bytes lxml writes for the whole tree,
# without moving the payload into a second document first (9 of 28 µs, issue #17).
_ENVELOPE_START = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
).encode()
_ENVELOPE_END = b"</soapenv:Body></soapenv:Envelope>"


def envelope(payload: etree._Element) -> bytes:
    """`payload` inside a SOAP 1.1 envelope, serialised as UTF-8."""
    serialised: bytes = etree.tostring(
        payload, encoding="utf-8", xml_declaration=False, with_tail=False
    )
    return _ENVELOPE_START + serialised + _ENVELOPE_END


def fault_envelope(faultcode: str, faultstring: str) -> bytes:
    """A SOAP 1.1 Fault; `faultcode` is a local name of the envelope namespace (Client)."""
    fault = etree.Element(FAULT, nsmap={"soapenv": SOAP_ENV})
    etree.SubElement(fault, "faultcode").text = f"soapenv:{faultcode}"
    etree.SubElement(fault, "faultstring").text = faultstring
    return envelope(fault)
