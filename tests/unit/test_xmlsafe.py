"""The hardened parser and the one XSD helper (xmlsafe.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from lxml import etree

from selfemployed_gateway.errors import ExternalResourceRefused
from selfemployed_gateway.xmlsafe import (
    SchemaError,
    XmlLimitExceeded,
    XmlLimits,
    XmlSchema,
    hardened_parser,
    parse_limited,
)
from tests.support.paths import PROJECT

INT_XSD = (
    b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
    b'<xs:element name="a" type="xs:int"/></xs:schema>'
)


def int_schema(tmp_path: Path) -> XmlSchema:
    path = tmp_path / "int.xsd"
    path.write_bytes(INT_XSD)
    return XmlSchema.from_file(path)


def test_first_error_is_worded_like_lxml(tmp_path: Path) -> None:
    """Supplier causes keep lxml's `DocumentInvalid` wording: the message, then the line."""
    schema = int_schema(tmp_path)
    element = etree.fromstring(b"<a>\n x</a>", hardened_parser())
    error = schema.first_error(element)
    with pytest.raises(etree.DocumentInvalid) as lxml_error:
        etree.XMLSchema(etree.fromstring(INT_XSD)).assertValid(element)
    assert error == SchemaError(
        "Element 'a': '\n x' is not a valid value of the atomic type 'xs:int'.", 1
    )
    assert str(error) == str(lxml_error.value)
    assert schema.first_error(etree.fromstring(b"<a>7</a>")) is None


def test_each_thread_has_its_own_schema(tmp_path: Path) -> None:
    """lxml keeps the error log on the schema object: errors must not mix between threads."""
    schema = int_schema(tmp_path)
    seen: list[etree.XMLSchema] = []
    thread = threading.Thread(target=lambda: seen.append(schema.schema()))
    thread.start()
    thread.join()
    assert seen[0] is not schema.schema()
    assert schema.schema() is schema.schema()


def test_a_missing_schema_fails_when_built(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        XmlSchema.from_file(tmp_path / "absent.xsd")


def test_package_and_common_element_schemas() -> None:
    protocol = XmlSchema.from_package(
        "selfemployed_gateway.suppliers", "schemas", "InastiSelfEmployedV1.xsd"
    )
    assert protocol.name == "InastiSelfEmployedV1.xsd"
    customer = XmlSchema.for_common_element(
        PROJECT / "xsd" / "CommonV3.xsd", "informationCustomer", "InformationCustomerType"
    )
    valid = etree.fromstring(
        b"<informationCustomer><customerIdentification><cbeNumber>0212345668</cbeNumber>"
        b"</customerIdentification></informationCustomer>"
    )
    assert customer.first_error(valid) is None
    assert customer.first_error(etree.fromstring(b"<informationCustomer/>")) is not None


def test_the_parser_loads_no_external_resource(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    document = f'<!DOCTYPE r SYSTEM "{secret.as_uri()}"><r/>'.encode()
    with pytest.raises(ExternalResourceRefused):
        etree.fromstring(document, hardened_parser())


# --- XML threat limits, checked while parsing ------------------------------------------------

HEADER = "{http://schemas.xmlsoap.org/soap/envelope/}Header"
ENVELOPE = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">{}</s:Envelope>'


def envelope(inside: str) -> bytes:
    return ENVELOPE.format(inside).encode()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            envelope("<s:Body>" + ("<a>" + "<b/>" * 30 + "</a>") * 20 + "</s:Body>"),
            "more than 512 elements",
        ),
        (envelope("<s:Body>" + "<a/>" * 65 + "</s:Body>"), "more than 64 children"),
        (
            envelope("<s:Body><a " + " ".join(f'x{i}="1"' for i in range(17)) + "/></s:Body>"),
            "more than 16 attributes",
        ),
        (envelope('<s:Body><a x="' + "v" * 1025 + '"/></s:Body>'), "longer than 1024 characters"),
        (envelope("<s:Body><a>" + "t" * 4097 + "</a></s:Body>"), "a text longer than 4096"),
        (envelope("<s:Body><a/>" + "t" * 4097 + "<b/></s:Body>"), "a text longer than 4096"),
        (
            envelope("<s:Header>" + ('<h x="' + "v" * 1000 + '"/>') * 17 + "</s:Header><s:Body/>"),
            "a Header larger than 16384 bytes",
        ),
    ],
    ids=["elements", "children", "attributes", "attribute", "text", "tail", "header"],
)
def test_each_limit_is_refused_with_its_name(document: bytes, message: str) -> None:
    with pytest.raises(XmlLimitExceeded, match=message):
        parse_limited(document, XmlLimits(), HEADER)


def test_a_bomb_is_refused_before_it_is_read_whole() -> None:
    """The limit stops the parse: a syntax error after the bomb is never reached."""
    bomb = envelope("<s:Header>" + "<a/>" * 250_000 + "</s:Header><s:Body/>")[:-5] + b"<oops"
    with pytest.raises(XmlLimitExceeded):
        parse_limited(bomb, XmlLimits(), HEADER)


def test_a_real_request_is_read_like_the_hardened_parser_reads_it() -> None:
    request = (PROJECT / "tests" / "hostile" / "known-request.xml").read_bytes()
    limited = parse_limited(request, XmlLimits(), HEADER)
    plain = etree.fromstring(request, hardened_parser())
    assert etree.tostring(limited) == etree.tostring(plain)
