"""Every example client against the real gateway: answers and faults as each stack reads them.

The oracle is the wire: the same request sent by httpx, its answer printed by `expected()`
after examples/clients/README.md. Each stack must print the same lines (but ticketCBSS, new
at every call). R-25 (DATA_FOUND, NO_DATA_FOUND MSG00100), R-30/R-31 (NO_RESULT MSG00008),
R-11 (fault MSG00015), R-22 (fault MSG00002); §8 (fault detail: reasonCode, information).
"""

from __future__ import annotations

import ssl

import httpx
from lxml import etree

from selfemployed_gateway.devpki import DevPki
from tests.clients.conftest import CPAS, ONSS, STRANGER, Caller, Printed, Stack
from tests.support.processes import Server
from tests.support.soap import (
    ACTION,
    SOAP_ENV,
    UUID,
    career_request,
    contributions_request,
    customer,
    payload,
)


def raw_answer(gateway: Server, pki: DevPki, caller: Caller, operation: str, body: str) -> bytes:
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    pair = pki.clients[caller.client_id]
    context.load_cert_chain(str(pair.cert), str(pair.key))
    with httpx.Client(verify=context, timeout=30) as client:
        response = client.post(
            gateway.urls["soap"],
            content=body.encode(),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ACTION + operation},
        )
    return response.content


def identification(caller: Caller) -> str:
    if caller.cbe is not None:
        return customer(cbe=caller.cbe)
    return customer(sector=caller.sector, institution=caller.institution)


def informations(element: etree._Element) -> list[tuple[str, str]]:
    return [
        ("information", f"{i.findtext('fieldName')}={i.findtext('fieldValue') or ''}")
        for i in element.findall("information")
    ]


def expected(answer: bytes) -> tuple[int, list[tuple[str, str]]]:
    """(exit code, lines) that examples/clients/README.md prescribes for this answer."""
    element = payload(answer)
    if element.tag == f"{{{SOAP_ENV}}}Fault":
        (detail,) = list(element.find("detail"))
        code = (element.findtext("faultcode") or "").rpartition(":")[2]
        lines = [("fault", f"{code} {element.findtext('faultstring')}")]
        for entry in detail.findall("detail"):
            lines.append(("reasonCode", entry.findtext("reasonCode") or ""))
            lines.append(("diagnostic", entry.findtext("diagnostic") or ""))
            lines += informations(entry)
        lines.append(("ticketCBSS", detail.findtext("informationCBSS/ticketCBSS") or ""))
        return 2, lines
    status = element.find("status")
    assert status is not None
    lines = [
        ("status", f"{status.findtext('value')} {status.findtext('code')}"),
        ("description", status.findtext("description") or ""),
        *informations(status),
        ("ticketCBSS", element.findtext("informationCBSS/ticketCBSS") or ""),
    ]
    if element.find("ssin") is not None:
        lines.append(("ssin", element.findtext("ssin") or ""))
    career = element.find("career")
    if career is not None:
        affiliations = len(career.findall("affiliations/affiliation"))
        segments = len(career.findall(".//careerSegment"))
        lines.append(
            (
                "career",
                f"{career.findtext('nisseReference')} affiliations={affiliations} "
                f"segments={segments}",
            )
        )
    for contribution in element.findall("contributions/contribution"):
        fund = contribution.findtext("socialInsuranceFund/code")
        lines.append(("contribution", f"{contribution.findtext('quarter')} fund={fund}"))
    return 0, lines


def same_as_the_wire(printed: Printed, wire: tuple[int, list[tuple[str, str]]]) -> None:
    """Every line as the wire says, ticketCBSS a new UUID (it differs at each call)."""
    code, lines = wire
    assert printed.exit_code == code, printed.text()
    assert [name for name, _ in printed.lines] == [name for name, _ in lines], printed.text()
    for (name, value), (_, wanted) in zip(printed.lines, lines, strict=True):
        if name == "ticketCBSS":
            assert UUID.match(value), printed.text()
        else:
            assert value == wanted, f"{name}: {value!r} != {wanted!r}\n{printed.text()}"


def test_consult_career_data_found(stack: Stack, gateway: Server, pki: DevPki) -> None:
    """R-25: the dataset's career of 65031510159 from 2000 to 2010, filtered for a CPAS."""
    printed = stack.consult(CPAS, "career", "65031510159", "2000-01-01", "2010-12-31")
    body = career_request(
        identification(CPAS), CPAS.legal_context, "65031510159", "2000-01-01", "2010-12-31"
    )
    wire = expected(raw_answer(gateway, pki, CPAS, "consultCareer", body))
    assert wire[1][0] == ("status", "DATA_FOUND MSG00000")
    same_as_the_wire(printed, wire)
    assert printed.one("career").startswith("RGTI0000000101 affiliations=")


def test_consult_contributions_data_found(stack: Stack, gateway: Server, pki: DevPki) -> None:
    """R-25: the four payments of 65031510159 in 2024."""
    printed = stack.consult(ONSS, "contributions", "65031510159", "2024Q1", "2024Q4")
    body = contributions_request(
        identification(ONSS), ONSS.legal_context, "65031510159", "2024Q1", "2024Q4"
    )
    wire = expected(raw_answer(gateway, pki, ONSS, "consultContributions", body))
    same_as_the_wire(printed, wire)
    quarters = [value.split()[0] for value in printed.all("contribution")]
    assert quarters == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]


def test_no_data_for_the_person_with_its_reason(stack: Stack, gateway: Server, pki: DevPki) -> None:
    """R-25: NO_DATA_FOUND MSG00100, information Reason = No data for requested person."""
    printed = stack.consult(ONSS, "career", "82041241406")
    body = career_request(identification(ONSS), ONSS.legal_context, "82041241406")
    same_as_the_wire(printed, expected(raw_answer(gateway, pki, ONSS, "consultCareer", body)))
    assert printed.one("status") == "NO_DATA_FOUND MSG00100"
    assert printed.all("information") == ["Reason=No data for requested person"]


def test_an_invalid_period_is_no_result_with_two_informations(
    stack: Stack, gateway: Server, pki: DevPki
) -> None:
    """R-30, R-31: NO_RESULT MSG00008, one information per broken date rule."""
    printed = stack.consult(ONSS, "career", "65031510159", "1956-06-30", "1956-06-29")
    body = career_request(
        identification(ONSS), ONSS.legal_context, "65031510159", "1956-06-30", "1956-06-29"
    )
    same_as_the_wire(printed, expected(raw_answer(gateway, pki, ONSS, "consultCareer", body)))
    assert printed.one("status") == "NO_RESULT MSG00008"
    assert len(printed.all("information")) == 2


def test_a_certificate_of_no_client_is_fault_msg00015(stack: Stack) -> None:
    """R-11: a certificate of the trusted CA that names no client: soapenv:Client MSG00015."""
    printed = stack.consult(STRANGER, "career", "65031510159")
    assert printed.exit_code == 2, printed.text()
    assert printed.one("fault").startswith("Client "), printed.text()
    assert printed.all("reasonCode") == ["MSG00015"]
    assert UUID.match(printed.one("ticketCBSS"))


def test_a_supplier_failure_is_fault_msg00002_with_its_details(
    stack: Stack, gateway: Server, pki: DevPki
) -> None:
    """R-22: INASTI answers a SOAP fault for 93030322213: soapenv:Server MSG00002."""
    printed = stack.consult(ONSS, "career", "93030322213")
    body = career_request(identification(ONSS), ONSS.legal_context, "93030322213")
    wire = expected(raw_answer(gateway, pki, ONSS, "consultCareer", body))
    same_as_the_wire(printed, wire)
    assert printed.one("fault").startswith("Server ")
    assert printed.all("reasonCode") == ["MSG00002"]
