"""The SOAP 1.1 envelope of INASTI's protocols (suppliers/soap11.py), both ways (R-66)."""

from __future__ import annotations

import threading

import pytest
from lxml import etree

from selfemployed_gateway.suppliers.soap11 import (
    FAULT,
    ProtocolError,
    describe_fault,
    envelope,
    fault_envelope,
    is_fault,
    read_payload,
)

ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def test_an_envelope_round_trips_its_payload() -> None:
    payload = etree.Element("{urn:x}hello", nsmap={"x": "urn:x"})
    etree.SubElement(payload, "who").text = "<&>"
    read = read_payload(envelope(payload))
    assert read.tag == "{urn:x}hello"
    assert read.findtext("who") == "<&>"


def test_a_fault_is_recognised_and_described() -> None:
    payload = read_payload(fault_envelope("Server", "boom " * 100))
    assert payload.tag == FAULT and is_fault(payload)
    description = describe_fault(payload)
    assert description.startswith("soapenv:Server: boom boom")
    assert len(description) == 200  # supplier text, untrusted: kept short


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not xml", "not well-formed XML"),
        (b"<a/>", "not a SOAP 1.1 envelope"),
        (f'<e:Envelope xmlns:e="{ENV}"/>'.encode(), "an optional Header and one Body"),
        (
            f'<e:Envelope xmlns:e="{ENV}"><e:Body/><e:Header/></e:Envelope>'.encode(),
            "an optional Header and one Body",
        ),
        (
            f'<e:Envelope xmlns:e="{ENV}"><e:Body><a/><b/></e:Body></e:Envelope>'.encode(),
            "the Body must hold one element, not 2",
        ),
        (b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>', "must not contain a DOCTYPE"),
        (b'<!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>', "must not load external resources"),
    ],
)
def test_what_is_not_one_envelope_with_one_body_element(body: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        read_payload(body)


def test_the_threads_parser_is_still_hardened_and_usable_after_a_refusal() -> None:
    """parse_document reuses one parser per thread: a refused or broken document leaves it
    as it was, for the next answer and for another thread's."""
    good = envelope(etree.Element("{urn:x}hello"))
    for bad in (b'<!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>', b"<broken", good):
        with pytest.raises(ProtocolError):
            read_payload(bad if bad is not good else b"<a/>")
        assert read_payload(good).tag == "{urn:x}hello"
    with pytest.raises(ProtocolError, match="must not load external resources"):
        read_payload(b'<!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>')

    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(str(read_payload(good).tag)))
    thread.start()
    thread.join(10)
    assert seen == ["{urn:x}hello"]
