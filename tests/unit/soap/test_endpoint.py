"""The SOAP endpoint without a server: faults of §8, R-22, R-26 (soap/endpoint.py)."""

from __future__ import annotations

import logging

import pytest
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.clock import FixedClock
from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.decisions import DecisionTrail
from selfemployed_gateway.records import CareerAnswer, DatePeriod, SupplierOutcome
from selfemployed_gateway.soap import faults
from selfemployed_gateway.soap.endpoint import SoapEndpoint, explain_edge_fault
from selfemployed_gateway.suppliers import SupplierError
from tests.support.endpoints import answer as call
from tests.support.endpoints import soap_endpoint
from tests.support.soap import ACTION, career_request, customer, fault, payload, status
from tests.unit.conftest import PROJECT, ScriptedSupplier, certificate, registers

XSD = PROJECT / "xsd" / "SelfEmployedV2.xsd"
CLOCK = FixedClock.parse("2026-11-26T10:00:00+01:00")
REQUEST = career_request(
    customer(cbe="0212345668"), "PCSA:SOCIAL_INQUIRY", "65031510159", "2000-01-01"
).encode()


def endpoint(dataset: Dataset, supplier: ScriptedSupplier) -> SoapEndpoint:
    return soap_endpoint(dataset, registers(dataset), supplier, CLOCK)


def broken(ssin: str, period: DatePeriod) -> CareerAnswer:
    raise ZeroDivisionError("secret internals")


def test_unexpected_error_is_msg00003_without_trace(
    dataset: Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    """R-26: MSG00003 Internal Error, soapenv:Server; logged with the ticketCBSS."""
    answer, outcome = call(
        endpoint(dataset, ScriptedSupplier(career=broken)),
        REQUEST,
        ACTION + "consultCareer",
        certificate("cpas-namur"),
    )
    assert answer.status == 500
    assert b"secret internals" not in answer.body
    assert b"ZeroDivisionError" not in answer.body
    found = fault(answer.body)
    assert (found["faultcode"], found["faultstring"]) == ("soapenv:Server", "Internal Error")
    assert found["details"][0]["reasonCode"] == "MSG00003"  # type: ignore[index]
    assert found["ticketCBSS"] == outcome.ticket_cbss
    records = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith("selfemployed_gateway")
    ]
    assert [getattr(r, "ticketCBSS", None) for r in records] == [outcome.ticket_cbss]
    assert outcome.outcome == "MSG00003"


@pytest.mark.parametrize(
    "details",
    [
        codes.SUPPLIER_UNEXPECTED_RETURN_CODE,
        codes.SUPPLIER_UNEXPECTED_RESPONSE,
        codes.SUPPLIER_TIME_BUDGET,
    ],
)
def test_supplier_error_is_msg00002_with_its_details(dataset: Dataset, details: str) -> None:
    """R-22: MSG00002 soapenv:Server with `details`."""

    def failing(ssin: str, period: DatePeriod) -> CareerAnswer:
        raise SupplierError(details, "cause")

    answer, _ = call(
        endpoint(dataset, ScriptedSupplier(career=failing)),
        REQUEST,
        None,
        certificate("cpas-namur"),
    )
    found = fault(answer.body)
    assert found["faultcode"] == "soapenv:Server"
    assert found["faultstring"] == "Error in communication with the destination/supplier"
    assert found["details"] == [
        {
            "severity": "FATAL",
            "reasonCode": "MSG00002",
            "diagnostic": "Error in communication with the destination/supplier",
            "authorCode": "http://www.ksz-bcss.fgov.be/",
            "information": [("details", details)],
        }
    ]
    assert found["informationCustomer"] is True
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    (detail,) = list(payload(answer.body).find("detail"))  # type: ignore[arg-type]
    assert schema.validate(detail), schema.error_log


@pytest.mark.parametrize(
    ("outcome", "value", "code", "description"),
    [
        (
            SupplierOutcome.FUND_TIMEOUT,
            "NO_RESULT",
            "SES00005",
            "Time-out. At least one social security funds did not reply in the given timeframe.",
        ),
        (SupplierOutcome.UNDER_INVESTIGATION, "NO_RESULT", "SES00006", "File under investigation."),
    ],
)
def test_inasti_statuses_are_passed_on_as_is(
    dataset: Dataset, outcome: SupplierOutcome, value: str, code: str, description: str
) -> None:
    """R-22: SES00005 and SES00006 are NO_RESULT statuses passed on from INASTI."""
    supplier = ScriptedSupplier(career=lambda ssin, period: CareerAnswer(outcome=outcome))
    answer, _ = call(endpoint(dataset, supplier), REQUEST, None, certificate("cpas-namur"))
    assert answer.status == 200
    element = payload(answer.body)
    assert status(element) == {
        "value": value,
        "code": code,
        "description": description,
        "information": [],
    }
    assert element.findtext("ssin") == "65031510159"
    assert element.find("career") is None


def test_the_supplier_gets_the_whole_career_without_period(dataset: Dataset) -> None:
    """R-33: no period = from 1956-07-01, open end."""
    supplier = ScriptedSupplier()
    request = career_request(
        customer(sector=21, institution=0), "SOCIAL_INSPECTION:INVESTIGATION", "65031510159"
    )
    call(endpoint(dataset, supplier), request.encode(), None, certificate("onss-inspection"))
    assert supplier.calls == [("consultCareer", "65031510159", "1956-07-01", "None")]


def test_a_date_with_a_time_zone_keeps_its_day(dataset: Dataset) -> None:
    """R-37: 2000-01-01+14:00 and 2000-01-01-12:00 both mean 1 January 2000."""
    supplier = ScriptedSupplier()
    for zone in ("+14:00", "-12:00", "Z"):
        request = career_request(
            customer(cbe="0212345668"),
            "PCSA:SOCIAL_INQUIRY",
            "65031510159",
            f"2000-01-01{zone}",
            f"2000-12-31{zone}",
        )
        call(endpoint(dataset, supplier), request.encode(), None, certificate("cpas-namur"))
    assert {call[2:] for call in supplier.calls} == {("2000-01-01", "2000-12-31")}


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("Element 'x': This element is not expected.", "R-10"),
        ("The envelope must hold one Body (and at most a Header)", "R-27"),
        ("At most one Header is allowed in a SOAP 1.1 envelope", "R-27"),
        ("The SOAP Body must hold exactly one request element, not 2", "R-27"),
        ("SOAPAction 'x' does not match the Body element, which asks for 'y'", "R-80"),
    ],
)
def test_an_edge_fault_names_its_rule_in_the_decision_trail(message: str, rule: str) -> None:
    """Issue #18: a MSG00004 refused before the pipeline decides by R-10, R-27 or R-80."""
    trail = DecisionTrail()
    explain_edge_fault(faults.invalid_structure(message), trail)
    assert trail.deciding is not None
    assert (trail.deciding.stage, trail.deciding.rules) == ("primary validation", (rule,))
    assert trail.deciding.facts == {"error message": message}


def test_a_fault_copies_an_information_customer_typed_with_a_prefix_of_the_envelope(
    dataset: Dataset,
) -> None:
    """§8: a readable informationCustomer goes into the fault, also when it carries
    xsi:type with a prefix declared on the Envelope (helper review of 2026-12-03: the copy
    lost the prefix, the block read as invalid and was left out). Written back without xsi:*
    attributes, as in an answer (R-53)."""
    typed = (
        REQUEST.decode()
        .replace(
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">',
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
            ' xmlns:c="http://kszbcss.fgov.be/types/common/v3"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
            1,
        )
        .replace(
            "<informationCustomer>", '<informationCustomer xsi:type="c:InformationCustomerType">'
        )
        .replace("</criteria>", "<extra/></criteria>")  # MSG00004
    )
    answer, _ = call(
        endpoint(dataset, ScriptedSupplier()), typed.encode(), None, certificate("cpas-namur")
    )
    assert fault(answer.body)["details"][0]["reasonCode"] == "MSG00004"  # type: ignore[index]
    (detail,) = list(payload(answer.body).find("detail"))  # type: ignore[arg-type]
    copied = detail.find("informationCustomer")
    assert copied is not None
    assert copied.attrib == {} and copied.findtext("ticket") == "t-1"
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(detail), schema.error_log
