"""R-10, R-80: reading the SOAP envelope safely (soap/envelope.py)."""

from __future__ import annotations

import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.records import GatewayFault, Operation
from selfemployed_gateway.soap.envelope import (
    check_must_understand,
    check_soap_action,
    open_envelope,
    operation_guess,
    parse_request,
)

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SES = "http://kszbcss.fgov.be/intf/SelfEmployedService/v2"


def envelope(body: str, header: str = "") -> bytes:
    return (f'<s:Envelope xmlns:s="{SOAP}">{header}<s:Body>{body}</s:Body></s:Envelope>').encode()


def error_message(fault: GatewayFault) -> str:
    assert fault.code.code == "MSG00004"
    (information,) = fault.information
    assert information.field_name == "error message"
    return information.field_value


def test_a_request_element_names_its_operation() -> None:
    body = envelope(f'<x:consultContributionsRequest xmlns:x="{SES}"/>', header="<s:Header/>")
    request = open_envelope(parse_request(body))
    assert request.operation is Operation.CONSULT_CONTRIBUTIONS
    assert request.payload.tag == f"{{{SES}}}consultContributionsRequest"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "Empty request"),
        (b"   \n", "Empty request"),
        (b"not xml", "not well-formed XML"),
        (b"<a><b></a>", "not well-formed XML"),
        (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', "DTD"),
    ],
)
def test_unreadable_bodies_are_msg00004(body: bytes, message: str) -> None:
    with pytest.raises(GatewayFault) as raised:
        open_envelope(parse_request(body))
    assert message in error_message(raised.value)


def test_entities_are_never_expanded() -> None:
    """A DTD is refused before any entity could be used (billion laughs, XXE)."""
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<lolz>&lol2;</lolz>"
    )
    with pytest.raises(GatewayFault) as raised:
        parse_request(laughs)
    assert "DTD" in error_message(raised.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f'<x:consultCareerRequest xmlns:x="{SES}"/>'.encode(), "Not a SOAP 1.1 envelope"),
        (
            b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
            "SOAP 1.2",
        ),
        (envelope(""), "exactly one request element, not 0"),
        (
            envelope(
                f'<x:consultCareerRequest xmlns:x="{SES}"/><x:consultCareerRequest '
                f'xmlns:x="{SES}"/>'
            ),
            "exactly one request element, not 2",
        ),
        (envelope(f'<x:consultPensionRequest xmlns:x="{SES}"/>'), "Unknown request element"),
        (envelope("<consultCareerRequest/>"), "Unknown request element"),
        (f'<s:Envelope xmlns:s="{SOAP}"><s:Header/></s:Envelope>'.encode(), "one Body"),
    ],
)
def test_envelopes_without_one_known_request_are_msg00004(body: bytes, message: str) -> None:
    with pytest.raises(GatewayFault) as raised:
        open_envelope(parse_request(body))
    assert message in error_message(raised.value)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        '""',
        '"http://kszbcss.fgov.be/intf/SelfEmployedService/consultCareer"',
        "http://kszbcss.fgov.be/intf/SelfEmployedService/consultCareer",
    ],
)
def test_soap_action_absent_empty_or_matching_is_accepted(header: str | None) -> None:
    """R-80."""
    check_soap_action(header, Operation.CONSULT_CAREER)


@pytest.mark.parametrize(
    "header",
    ['"http://kszbcss.fgov.be/intf/SelfEmployedService/consultContributions"', "urn:other"],
)
def test_soap_action_naming_another_operation_is_msg00004(header: str) -> None:
    """R-80."""
    with pytest.raises(GatewayFault) as raised:
        check_soap_action(header, Operation.CONSULT_CAREER)
    assert "does not match the Body element" in error_message(raised.value)


def test_operation_guess_for_fault_element() -> None:
    """§10 [decision]: consultCareerFault when the operation cannot be told."""
    assert operation_guess(None) is Operation.CONSULT_CAREER
    root = parse_request(envelope(f'<x:consultContributionsRequest xmlns:x="{SES}"/><y/>'))
    assert operation_guess(root) is Operation.CONSULT_CONTRIBUTIONS


# --- SOAP 1.1 envelope rules ---------------------------------------------------------

CAREER = f'<x:consultCareerRequest xmlns:x="{SES}"/>'


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            f'<s:Envelope xmlns:s="{SOAP}"><s:Body>{CAREER}</s:Body><s:Header/></s:Envelope>',
            "The Header must be the first child of the Envelope",
        ),
        (
            f'<s:Envelope xmlns:s="{SOAP}"><s:Header/><s:Header/><s:Body>{CAREER}</s:Body>'
            "</s:Envelope>",
            "At most one Header",
        ),
    ],
)
def test_a_header_after_the_body_or_twice_is_msg00004(document: str, message: str) -> None:
    with pytest.raises(GatewayFault) as raised:
        open_envelope(parse_request(document.encode()))
    assert message in error_message(raised.value)


@pytest.mark.parametrize("value", ["1", "true", " 1 "])
def test_a_mandatory_header_block_is_a_must_understand_fault(value: str) -> None:
    header = f'<s:Header><w:Security xmlns:w="urn:wsse" s:mustUnderstand="{value}"/></s:Header>'
    request = open_envelope(parse_request(envelope(CAREER, header=header)))
    with pytest.raises(GatewayFault) as raised:
        check_must_understand(request)
    assert raised.value.code is codes.MUST_UNDERSTAND
    assert [(i.field_name, i.field_value) for i in raised.value.information] == [
        ("header", "{urn:wsse}Security")
    ]


@pytest.mark.parametrize(
    "block",
    [
        '<a:Action xmlns:a="http://www.w3.org/2005/08/addressing">urn:x</a:Action>',
        '<w:Security xmlns:w="urn:wsse" s:mustUnderstand="0"/>',
        '<w:Security xmlns:w="urn:wsse" s:mustUnderstand="false"/>',
        '<w:Security xmlns:w="urn:wsse" mustUnderstand="1"/>',  # not the SOAP attribute
    ],
)
def test_other_header_blocks_are_ignored(block: str) -> None:
    request = open_envelope(parse_request(envelope(CAREER, header=f"<s:Header>{block}</s:Header>")))
    check_must_understand(request)
