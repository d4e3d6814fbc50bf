"""Building requests and reading responses in end-to-end tests."""

from __future__ import annotations

import re

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SES = "http://kszbcss.fgov.be/intf/SelfEmployedService/v2"
ACTION = "http://kszbcss.fgov.be/intf/SelfEmployedService/"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def envelope(payload: str) -> str:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
        f"{payload}</soapenv:Body></soapenv:Envelope>"
    )


def customer(
    cbe: str | None = None,
    sector: int | None = None,
    institution: int | None = None,
    ticket: str = "t-1",
) -> str:
    if cbe is not None:
        identification = f"<cbeNumber>{cbe}</cbeNumber>"
    else:
        identification = f"<sector>{sector}</sector><institution>{institution}</institution>"
    return (
        f"<informationCustomer><ticket>{ticket}</ticket>"
        f"<customerIdentification>{identification}</customerIdentification>"
        "</informationCustomer>"
    )


def career_request(
    information_customer: str,
    legal_context: str,
    ssin: str,
    begin: str | None = None,
    end: str | None = None,
) -> str:
    period = ""
    if begin is not None:
        period = f"<period><beginDate>{begin}</beginDate>"
        period += f"<endDate>{end}</endDate></period>" if end else "</period>"
    return envelope(
        f'<ses:consultCareerRequest xmlns:ses="{SES}">{information_customer}'
        f"<legalContext>{legal_context}</legalContext>"
        f"<criteria><ssin>{ssin}</ssin>{period}</criteria></ses:consultCareerRequest>"
    )


def contributions_request(
    information_customer: str, legal_context: str, ssin: str, begin: str, end: str | None = None
) -> str:
    end_quarter = f"<endQuarter>{end}</endQuarter>" if end else ""
    return envelope(
        f'<ses:consultContributionsRequest xmlns:ses="{SES}">{information_customer}'
        f"<legalContext>{legal_context}</legalContext><criteria><ssin>{ssin}</ssin>"
        f"<period><beginQuarter>{begin}</beginQuarter>{end_quarter}</period></criteria>"
        "</ses:consultContributionsRequest>"
    )


def payload(body: bytes) -> etree._Element:
    """The one element inside the SOAP Body of a response."""
    root = etree.fromstring(body)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    (soap_body,) = root.findall(f"{{{SOAP_ENV}}}Body")
    (element,) = list(soap_body)
    return element


def canonical(element: etree._Element, drop: tuple[str, ...] = ("informationCBSS",)) -> str:
    """C14N of `element` without whitespace-only text and without the `drop` children."""
    copy = etree.fromstring(etree.tostring(element))
    for name in drop:
        for found in copy.findall(f".//{name}"):
            found.getparent().remove(found)
    for node in copy.iter():
        if node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    etree.cleanup_namespaces(copy)
    # C14N for a stable form, then one element per line for readable test diffs.
    c14n = etree.tostring(copy, method="c14n")
    return etree.tostring(etree.fromstring(c14n), pretty_print=True).decode()


def expected(xml: str) -> str:
    return canonical(etree.fromstring(xml))


def status(element: etree._Element) -> dict[str, object]:
    found = element.find("status")
    assert found is not None
    return {
        "value": found.findtext("value"),
        "code": found.findtext("code"),
        "description": found.findtext("description"),
        "information": [
            (i.findtext("fieldName"), i.findtext("fieldValue"))
            for i in found.findall("information")
        ],
    }


def fault(body: bytes) -> dict[str, object]:
    """The parts of a SOAP fault that the specification fixes (§8)."""
    element = payload(body)
    assert element.tag == f"{{{SOAP_ENV}}}Fault"
    (detail_element,) = list(element.find("detail"))
    details = detail_element.findall("detail")
    return {
        "faultcode": element.findtext("faultcode"),
        "faultstring": element.findtext("faultstring"),
        "faultactor": element.findtext("faultactor"),
        "element": detail_element.tag,
        "informationCustomer": detail_element.find("informationCustomer") is not None,
        "ticketCBSS": detail_element.findtext("informationCBSS/ticketCBSS"),
        "details": [
            {
                "severity": d.findtext("severity"),
                "reasonCode": d.findtext("reasonCode"),
                "diagnostic": d.findtext("diagnostic"),
                "authorCode": d.findtext("authorCode"),
                "information": [
                    (i.findtext("fieldName"), i.findtext("fieldValue"))
                    for i in d.findall("information")
                ],
            }
            for d in details
        ],
    }
