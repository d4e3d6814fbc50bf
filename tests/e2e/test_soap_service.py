"""End-to-end: the SOAP service over real mutual TLS: contract, operations, faults.

R-01 … R-08 (contract, WSDL served), R-10 (MSG00004), R-11/R-12 (MSG00015, TLS refusal),
R-25 (DATA_FOUND / NO_DATA_FOUND), R-52 … R-55 (response content), §8 (faults).
"""

from __future__ import annotations

import json
import re
import ssl
import warnings

import httpx
import pytest
import requests
import zeep
from lxml import etree
from zeep.transports import Transport

from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.dataset import load_dataset
from selfemployed_gateway.devpki import DevPki
from selfemployed_gateway.xmlsafe import XmlSchema
from tests.e2e.conftest import DATASET, CallerFactory, tls_context
from tests.support.admin import audit_path
from tests.support.processes import PROJECT, Server
from tests.support.published import PublishedCommon
from tests.support.soap import (
    ACTION,
    SES,
    TIMESTAMP,
    UUID,
    canonical,
    career_request,
    contributions_request,
    customer,
    expected,
    fault,
    payload,
    status,
)

CODES = load_dataset(DATASET).codes
SERVICE_XSD = XmlSchema.from_file(PROJECT / "xsd" / "SelfEmployedV2.xsd")

CPAS = customer(cbe="0212345668")
ONSS = customer(sector=21, institution=0)
RIZIV = customer(cbe="0234567873")


def coded(table: str, code: str) -> str:
    texts = getattr(CODES, table)[code]
    descriptions = "".join(
        f'<description language="{language}">{getattr(texts, language)}</description>'
        for language in ("FR", "NL", "DE")
    )
    return f"<code>{code}</code>{descriptions}"


def segment(
    begin: str, end: str | None, quality: str, contribution: str, equality: str | None = None
) -> str:
    end_date = f"<endDate>{end}</endDate>" if end else ""
    equality_element = f"<equality>{coded('equality', equality)}</equality>" if equality else ""
    return (
        f"<careerSegment><period><beginDate>{begin}</beginDate>{end_date}</period>"
        f"<selfEmployedQuality>{coded('selfEmployedQuality', quality)}</selfEmployedQuality>"
        f"<contribution>{coded('contribution', contribution)}</contribution>"
        f"{equality_element}</careerSegment>"
    )


def test_consult_career_data_found_filtered_for_the_cpas(as_client: CallerFactory) -> None:
    """R-25 MSG00000, R-51 dataFilters listed, R-50 occupation/signatureDate removed, R-55."""
    response = as_client("cpas-namur").post(
        career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159", "2000-01-01", "2010-12-31"),
        soap_action=ACTION + "consultCareer",
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    element = payload(response.content)
    assert canonical(element) == expected(
        f'<ses:consultCareerResponse xmlns:ses="{SES}">{CPAS}'
        "<legalContext>PCSA:SOCIAL_INQUIRY</legalContext>"
        "<criteria><ssin>65031510159</ssin><period><beginDate>2000-01-01</beginDate>"
        "<endDate>2010-12-31</endDate></period></criteria>"
        "<status><value>DATA_FOUND</value><code>MSG00000</code>"
        "<description>Treatment successful</description></status>"
        "<ssin>65031510159</ssin>"
        "<dataFilters><filteredElement>occupation</filteredElement>"
        "<filteredElement>signatureDate</filteredElement></dataFilters>"
        "<career><nisseReference>RGTI0000000101</nisseReference>"
        "<selfEmployedEnterpriseNumber>0567890161</selfEmployedEnterpriseNumber>"
        "<affiliations>"
        "<affiliation><socialInsuranceFund><enterpriseNumber>0409085424</enterpriseNumber>"
        "<code>010</code></socialInsuranceFund><careerSegments>"
        + segment("2000-01-01", "2000-06-30", "100", "101", "130")
        + "</careerSegments></affiliation>"
        "<affiliation><socialInsuranceFund><enterpriseNumber>0409081464</enterpriseNumber>"
        "<code>002</code></socialInsuranceFund><careerSegments>"
        + segment("2000-07-01", None, "100", "104")
        + "</careerSegments></affiliation>"
        "</affiliations></career></ses:consultCareerResponse>"
    )
    assert SERVICE_XSD.first_error(element) is None


def test_information_cbss_is_filled_by_the_gateway(as_client: CallerFactory) -> None:
    """R-53: ticketCBSS is a UUID, timestamps are UTC with milliseconds; a client's own
    informationCBSS is ignored and replaced."""
    request = career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159", "2000-01-01")
    request = request.replace(
        "<legalContext>",
        "<informationCBSS><ticketCBSS>00000000-0000-0000-0000-000000000000</ticketCBSS>"
        "<timestampReceive>2001-01-01T00:00:00Z</timestampReceive>"
        "<timestampReply>2001-01-01T00:00:00Z</timestampReply></informationCBSS><legalContext>",
    )
    element = payload(as_client("cpas-namur").post(request).content)
    cbss = element.find("informationCBSS")
    assert cbss is not None
    assert UUID.match(cbss.findtext("ticketCBSS") or "")
    assert cbss.findtext("ticketCBSS") != "00000000-0000-0000-0000-000000000000"
    assert TIMESTAMP.match(cbss.findtext("timestampReceive") or "")
    assert TIMESTAMP.match(cbss.findtext("timestampReply") or "")


def test_consult_career_without_filters_keeps_occupation_and_signature(
    as_client: CallerFactory,
) -> None:
    """R-50/R-51: a client without filters gets occupation and signatureDate, no dataFilters."""
    response = as_client("riziv-medical").post(
        career_request(
            RIZIV, "HEALTH_INSURANCE:INCAPACITY", "65031510159", "1995-01-01", "1999-12-31"
        )
    )
    element = payload(response.content)
    assert status(element)["code"] == "MSG00000"
    assert element.find("dataFilters") is None
    career = element.find("career")
    assert career is not None
    assert career.findtext("occupation/code") == "620100"
    assert [a.findtext("signatureDate") for a in career.iter("affiliation")] == ["1989-12-15"]
    assert [s.findtext("period/beginDate") for s in career.iter("careerSegment")] == ["1990-01-01"]


def test_consult_career_no_data_for_person(as_client: CallerFactory) -> None:
    """R-25: INASTI has nothing for the person: NO_DATA_FOUND MSG00100, Reason person."""
    element = payload(
        as_client("onss-inspection")
        .post(career_request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "82041241406"))
        .content
    )
    assert status(element) == {
        "value": "NO_DATA_FOUND",
        "code": "MSG00100",
        "description": "Treatment successful, but no data found at the supplier.",
        "information": [("Reason", "No data for requested person")],
    }
    assert element.findtext("ssin") == "82041241406"
    assert element.find("career") is None
    assert SERVICE_XSD.first_error(element) is None


def test_consult_contributions_data_found(as_client: CallerFactory) -> None:
    """R-25 MSG00000; every payment whose quarter is in the period, in quarter order."""
    response = as_client("onss-inspection").post(
        contributions_request(
            ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159", "2024Q1", "2024Q4"
        ),
        soap_action=ACTION + "consultContributions",
    )
    assert response.status_code == 200
    element = payload(response.content)

    def contribution(quarter: str, situation: str, ziv: str) -> str:
        return (
            f"<contribution><quarter>{quarter}</quarter><socialInsuranceFund>"
            "<enterpriseNumber>0409081464</enterpriseNumber><code>002</code>"
            f"</socialInsuranceFund><contributionSituation>"
            f"{coded('contributionSituation', situation)}</contributionSituation>"
            f"<ziv>{coded('ziv', ziv)}</ziv></contribution>"
        )

    assert canonical(element) == expected(
        f'<ses:consultContributionsResponse xmlns:ses="{SES}">{ONSS}'
        "<legalContext>SOCIAL_INSPECTION:INVESTIGATION</legalContext>"
        "<criteria><ssin>65031510159</ssin><period><beginQuarter>2024Q1</beginQuarter>"
        "<endQuarter>2024Q4</endQuarter></period></criteria>"
        "<status><value>DATA_FOUND</value><code>MSG00000</code>"
        "<description>Treatment successful</description></status>"
        "<ssin>65031510159</ssin><contributions>"
        + contribution("2024Q1", "01", "1")
        + contribution("2024Q2", "02", "3")
        + contribution("2024Q3", "01", "1")
        + contribution("2024Q4", "01", "1")
        + "</contributions></ses:consultContributionsResponse>"
    )
    assert SERVICE_XSD.first_error(element) is None


def test_consult_contributions_no_data_for_period(as_client: CallerFactory) -> None:
    """R-25: data for the person, none in the period: MSG00100, Reason period."""
    element = payload(
        as_client("onss-inspection")
        .post(
            contributions_request(
                ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159", "2026Q4", "2026Q4"
            )
        )
        .content
    )
    assert status(element) == {
        "value": "NO_DATA_FOUND",
        "code": "MSG00100",
        "description": "Treatment successful, but no data found at the supplier.",
        "information": [("Reason", "No data for requested period")],
    }
    assert element.find("contributions") is None


def test_schema_invalid_request_is_msg00004(as_client: CallerFactory) -> None:
    """R-10, §8: MSG00004, soapenv:Client, HTTP 500, the schema error as information,
    informationCustomer copied because it could be read."""
    request = career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159").replace(
        "<criteria>", "<unexpected/><criteria>"
    )
    response = as_client("cpas-namur").post(request)
    assert response.status_code == 500
    answer = fault(response.content)
    details = answer.pop("details")
    assert answer["element"] == f"{{{SES}}}consultCareerFault"
    assert answer["faultcode"] == "soapenv:Client"
    assert answer["faultstring"] == "The request has an invalid structure"
    assert answer["faultactor"] == "http://www.ksz-bcss.fgov.be"
    assert answer["informationCustomer"] is True
    assert UUID.match(str(answer["ticketCBSS"]))
    assert details == [
        {
            "severity": "FATAL",
            "reasonCode": "MSG00004",
            "diagnostic": "The request has an invalid structure",
            "authorCode": "http://www.ksz-bcss.fgov.be/",
            "information": [
                (
                    "error message",
                    "Element 'unexpected': This element is not expected. Expected is ( criteria ).",
                )
            ],
        }
    ]
    assert _fault_detail_valid(response.content)


def test_contributions_fault_uses_the_contributions_fault_element(
    as_client: CallerFactory,
) -> None:
    """R-03: the fault detail element follows the operation (`consultContributionsFault`)."""
    request = contributions_request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "6503151015", "2024Q1")
    response = as_client("onss-inspection").post(request)
    answer = fault(response.content)
    assert answer["element"] == f"{{{SES}}}consultContributionsFault"
    assert answer["details"][0]["reasonCode"] == "MSG00004"  # type: ignore[index]
    assert "ssin" in answer["details"][0]["information"][0][1]  # type: ignore[index]


@pytest.mark.parametrize(
    "body",
    [b"this is not XML", b"", b"<unclosed>", "\u00e9t\u00e9".encode("latin-1")],
    ids=["text", "empty", "unclosed", "bad-utf8"],
)
def test_non_xml_is_msg00004(as_client: CallerFactory, body: bytes) -> None:
    """R-10: not XML is MSG00004 with consultCareerFault ([decision] §10), no customer."""
    response = as_client("cpas-namur").post(body)
    assert response.status_code == 500
    answer = fault(response.content)
    assert answer["faultcode"] == "soapenv:Client"
    assert answer["element"] == f"{{{SES}}}consultCareerFault"
    assert answer["informationCustomer"] is False
    (detail,) = answer["details"]  # type: ignore[misc]
    assert detail["reasonCode"] == "MSG00004"
    assert detail["information"][0][0] == "error message"
    assert _fault_detail_valid(response.content)


def test_soap_action_naming_another_operation_is_msg00004(as_client: CallerFactory) -> None:
    """R-80: SOAPAction consultContributions on a consultCareer body."""
    response = as_client("cpas-namur").post(
        career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159"),
        soap_action=ACTION + "consultContributions",
    )
    answer = fault(response.content)
    assert answer["details"][0]["reasonCode"] == "MSG00004"  # type: ignore[index]
    assert "SOAPAction" in answer["details"][0]["information"][0][1]  # type: ignore[index]


# --- SOAP 1.1 envelope rules -------------------------------------------------------

SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"


def with_header(request: str, header: str, *, after_body: bool = False) -> str:
    """`request` (an envelope from tests.support.soap) with `header` before or after its Body."""
    opening = f'<soapenv:Envelope xmlns:soapenv="{SOAPENV}">'
    assert request.startswith(opening) and request.endswith("</soapenv:Envelope>")
    if after_body:
        return request.replace("</soapenv:Envelope>", header + "</soapenv:Envelope>")
    return request.replace(opening, opening + header)


def audited_outcomes(gateway: Server) -> list[str]:
    store = SqliteAuditStore(audit_path(gateway))
    try:
        return [record.outcome for record in store.find(client_id=None, limit=1000)]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("header", "after_body", "message"),
    [
        ("<soapenv:Header/>", True, "The Header must be the first child of the Envelope"),
        ("<soapenv:Header/><soapenv:Header/>", False, "At most one Header"),
    ],
    ids=["header-after-body", "two-headers"],
)
def test_a_broken_soap_envelope_is_msg00004(
    as_client: CallerFactory, header: str, after_body: bool, message: str
) -> None:
    """R-27: a Header after the Body, or twice, is not a SOAP 1.1 envelope."""
    request = with_header(
        career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159"), header, after_body=after_body
    )
    response = as_client("cpas-namur").post(request)
    assert response.status_code == 500
    answer = fault(response.content)
    (detail,) = answer["details"]  # type: ignore[misc]
    assert detail["reasonCode"] == "MSG00004"
    assert message in detail["information"][0][1]


@pytest.mark.parametrize("value", ["1", "true"])
def test_a_mandatory_header_block_is_a_must_understand_fault(
    as_client: CallerFactory, gateway: Server, value: str
) -> None:
    """R-27: mustUnderstand="1" on a block the gateway does not process: soapenv:MustUnderstand,
    HTTP 500, faultactor, no detail (SOAP 1.1 §4.4); audited like any exchange."""
    header = (
        "<soapenv:Header>"
        f'<wsse:Security xmlns:wsse="urn:test:wsse" soapenv:mustUnderstand="{value}"/>'
        "</soapenv:Header>"
    )
    before = audited_outcomes(gateway).count("MustUnderstand")
    request = with_header(career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159"), header)
    response = as_client("cpas-namur").post(request)
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/xml")
    envelope = etree.fromstring(response.content)
    (found,) = envelope.findall(f"{{{SOAPENV}}}Body/{{{SOAPENV}}}Fault")
    assert [child.tag for child in found] == ["faultcode", "faultstring", "faultactor"]
    assert found.findtext("faultcode") == "soapenv:MustUnderstand"
    assert found.findtext("faultstring") == (
        "A mandatory SOAP header block was not understood: {urn:test:wsse}Security"
    )
    assert found.findtext("faultactor") == "http://www.ksz-bcss.fgov.be"
    assert audited_outcomes(gateway).count("MustUnderstand") == before + 1


@pytest.mark.parametrize(
    "block",
    [
        '<wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">'
        "http://kszbcss.fgov.be/intf/SelfEmployedService/consultCareer</wsa:Action>",
        '<wsse:Security xmlns:wsse="urn:test:wsse" soapenv:mustUnderstand="0"/>',
    ],
    ids=["ws-addressing", "must-understand-0"],
)
def test_optional_header_blocks_are_ignored(as_client: CallerFactory, block: str) -> None:
    """R-27: header blocks without mustUnderstand (WS-Addressing) do not break calls."""
    request = with_header(
        career_request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159"),
        f"<soapenv:Header>{block}</soapenv:Header>",
    )
    response = as_client("onss-inspection").post(request)
    assert response.status_code == 200
    assert status(payload(response.content))["code"] == "MSG00000"


# --- each simple type's whiteSpace facet ------------------------------------------


def padded_career(
    begin: str = "2000-01-01", end: str = "2010-12-31", timestamp: str = "", ssin: str = ""
) -> str:
    """A consultCareer of onss-inspection for 65031510159 with values padded as given."""
    information_customer = (
        "<informationCustomer><ticket>t-1</ticket>"
        + (f"<timestampSent>{timestamp}</timestampSent>" if timestamp else "")
        + "<customerIdentification><sector>\n21\n</sector><institution> 0 </institution>"
        "</customerIdentification></informationCustomer>"
    )
    return career_request(
        information_customer,
        "SOCIAL_INSPECTION:INVESTIGATION",
        ssin or "65031510159",
        begin,
        end,
    )


@pytest.mark.parametrize(
    ("begin", "end", "timestamp"),
    [
        (" 2000-01-01 ", "2010-12-31", ""),  # xs:date (beginDate)
        ("2000-01-01", "\n\t2010-12-31\n", ""),  # xs:date (endDate), tabs and newlines
        ("2000-01-01", "2010-12-31", " 2026-11-26T09:00:00.000Z "),  # xs:dateTime
        ("2000-01-01", "2010-12-31", ""),  # xs:unsignedShort (sector, institution) alone
    ],
    ids=["beginDate", "endDate", "timestampSent", "sector-institution"],
)
def test_collapsing_types_are_accepted_padded_and_copied_as_sent(
    as_client: CallerFactory, begin: str, end: str, timestamp: str
) -> None:
    """R-10: xs:date, xs:dateTime and xs:unsignedShort collapse white space (a fixed facet):
    schema-valid padded, read collapsed; the copied blocks come back exactly as sent (R-53)."""
    response = as_client("onss-inspection").post(padded_career(begin, end, timestamp))
    assert response.status_code == 200, response.text
    element = payload(response.content)
    assert status(element)["code"] == "MSG00000"
    assert element.findtext("criteria/period/beginDate") == begin
    assert element.findtext("criteria/period/endDate") == end
    assert element.findtext("informationCustomer/customerIdentification/sector") == "\n21\n"
    if timestamp:
        assert element.findtext("informationCustomer/timestampSent") == timestamp
    segments = element.findall("career/affiliations/affiliation/careerSegments/careerSegment")
    assert segments, "the collapsed period was consulted"


def test_quarters_are_accepted_padded(as_client: CallerFactory) -> None:
    """R-10: common:YearQuarterType declares whiteSpace collapse itself."""
    request = contributions_request(
        ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159", " 2024Q1 ", "\n2025Q4\n"
    )
    response = as_client("onss-inspection").post(request)
    assert response.status_code == 200, response.text
    element = payload(response.content)
    assert element.findtext("criteria/period/beginQuarter") == " 2024Q1 "


INSPECTION = ("SOCIAL_INSPECTION:INVESTIGATION", "65031510159", "2000-01-01", "2010-12-31")


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("<sector>21</sector>", "<sector>21</sector>", "MSG00000"),  # unchanged: the baseline
        ("<ticket>t-1</ticket>", "<ticket> t-1 </ticket>", "MSG00000"),  # TicketType: kept
        (
            "<legalContext>SOCIAL_INSPECTION:INVESTIGATION</legalContext>",
            "<legalContext> SOCIAL_INSPECTION:INVESTIGATION </legalContext>",
            "MSG00013",  # LegalContextType preserves: not one of the client's contexts
        ),
        (
            "</informationCustomer>",
            "</informationCustomer><informationCBSS><ticketCBSS> "
            "0b6f2f0e-5d0c-4a53-9d7e-3f1c2b9a8e41 </ticketCBSS><timestampReceive>"
            "2026-11-26T09:00:00Z</timestampReceive><timestampReply>2026-11-26T09:00:00Z"
            "</timestampReply></informationCBSS>",
            "MSG00004",  # UUIDType: a pattern over xs:string
        ),
        ("<ssin>65031510159</ssin>", "<ssin>\n65031510159</ssin>", "MSG00004"),  # SsinType
    ],
    ids=["baseline", "TicketType", "LegalContextType", "UUIDType", "SsinType"],
)
def test_string_types_preserve_white_space(
    as_client: CallerFactory, old: str, new: str, code: str
) -> None:
    """R-10: types restricting xs:string stay strict — a pattern refuses padding (MSG00004),
    other values are used and copied as sent."""
    request = career_request(ONSS, *INSPECTION)
    assert old in request
    response = as_client("onss-inspection").post(request.replace(old, new, 1))
    if code == "MSG00004":
        assert response.status_code == 500
        assert fault(response.content)["details"][0]["reasonCode"] == code  # type: ignore[index]
        return
    element = payload(response.content)
    assert status(element)["code"] == code
    assert element.findtext("informationCustomer/ticket") == (" t-1 " if "> t-1 " in new else "t-1")


def test_a_padded_cbe_number_is_msg00004(as_client: CallerFactory) -> None:
    """R-10: common:CbeNumberType is a pattern over xs:string."""
    request = career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159", "2000-01-01")
    request = request.replace("<cbeNumber>0212345668", "<cbeNumber> 0212345668 ", 1)
    response = as_client("cpas-namur").post(request)
    assert response.status_code == 500
    assert fault(response.content)["details"][0]["reasonCode"] == "MSG00004"  # type: ignore[index]


def test_stranger_certificate_is_msg00015(as_client: CallerFactory) -> None:
    """R-11/R-12: a trusted certificate that no client entry names: MSG00015."""
    response = as_client("stranger").post(
        career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159")
    )
    assert response.status_code == 500
    answer = fault(response.content)
    assert answer["faultcode"] == "soapenv:Client"
    assert answer["faultstring"] == "AAAPolicy Authorization Refused"
    assert answer["details"] == [
        {
            "severity": "FATAL",
            "reasonCode": "MSG00015",
            "diagnostic": "AAAPolicy Authorization Refused",
            "authorCode": "http://www.ksz-bcss.fgov.be/",
            "information": [],
        }
    ]
    assert _fault_detail_valid(response.content)


def _handshake_refused(pki: DevPki, gateway: Server, context: ssl.SSLContext) -> None:
    body = career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159")
    refused = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)
    with pytest.raises(refused), httpx.Client(verify=context, timeout=10) as client:
        client.post(gateway.urls["soap"], content=body)


def test_rogue_certificate_is_refused_by_tls(pki: DevPki, gateway: Server) -> None:
    """R-06/R-11: a certificate of another CA gets no TLS session."""
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    context.load_cert_chain(str(pki.rogue.cert), str(pki.rogue.key))
    _handshake_refused(pki, gateway, context)


def test_no_certificate_is_refused_by_tls(pki: DevPki, gateway: Server) -> None:
    """R-06/R-11: mutual authentication: no client certificate, no TLS session."""
    _handshake_refused(pki, gateway, tls_context(pki, None))


def test_wsdl_is_served_with_its_own_address(pki: DevPki, gateway: Server) -> None:
    """R-07: ?wsdl returns the hand-written WSDL with soap:address = the URL fetched."""
    url = gateway.urls["soap"]
    with httpx.Client(verify=tls_context(pki, "cpas-namur")) as client:
        wsdl = client.get(url + "?wsdl")
        xsd = client.get(url + "?xsd=SelfEmployedTypesV2.xsd")
        unknown = client.get(url + "?xsd=../../etc/passwd")
    assert wsdl.status_code == 200
    document = etree.fromstring(wsdl.content)
    (address,) = document.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == url
    locations = [e.get("schemaLocation") for e in document.iter() if e.get("schemaLocation")]
    assert locations == [url + "?xsd=SelfEmployedV2.xsd"]
    assert xsd.status_code == 200
    assert b'schemaLocation="' + (url + "?xsd=CommonV3.xsd").encode() in xsd.content
    assert unknown.status_code == 404


def test_zeep_imports_the_served_wsdl_and_calls_both_operations(
    pki: DevPki, gateway: Server
) -> None:
    """R-01 … R-04: a zeep client built from the served WSDL, with no warning."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE must not override our private CA
    session.verify = str(pki.ca.cert)
    pair = pki.clients["onss-inspection"]
    session.cert = (str(pair.cert), str(pair.key))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = zeep.Client(gateway.urls["soap"] + "?wsdl", transport=Transport(session=session))
    identification = {"customerIdentification": {"sector": 21, "institution": 0}}
    career = client.service.consultCareer(
        informationCustomer=identification,
        legalContext="SOCIAL_INSPECTION:INVESTIGATION",
        criteria={"ssin": "72060120261", "period": {"beginDate": "2019-01-01"}},
    )
    assert career.status.code == "MSG00000"
    assert career.ssin._value_1 == "72060120261"
    assert [
        s.selfEmployedQuality.code
        for a in career.career.affiliations.affiliation
        for s in a.careerSegments.careerSegment
    ] == [100, 200, 100]
    contributions = client.service.consultContributions(
        informationCustomer=identification,
        legalContext="SOCIAL_INSPECTION:INVESTIGATION",
        criteria={
            "ssin": "65031510159",
            "period": {"beginQuarter": "2025Q1", "endQuarter": "2025Q2"},
        },
    )
    assert contributions.status.code == "MSG00000"
    assert [c.quarter for c in contributions.contributions.contribution] == ["2025Q1", "2025Q2"]
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.consultCareer(
            informationCustomer=identification,
            legalContext="SOCIAL_INSPECTION:INVESTIGATION",
            criteria={"ssin": "6503151015"},
        )
    assert raised.value.code == "soapenv:Client"
    assert raised.value.message == "The request has an invalid structure"


def test_get_without_wsdl_is_405(pki: DevPki, gateway: Server) -> None:
    with httpx.Client(verify=tls_context(pki, "cpas-namur")) as client:
        response = client.get(gateway.urls["soap"])
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_admin_health_and_readiness(gateway: Server) -> None:
    """Admin listener: /healthz alive; /readyz ready while the simulator runs."""
    admin = gateway.urls["admin"]
    health = httpx.get(admin + "/healthz")
    ready = httpx.get(admin + "/readyz")
    assert (health.status_code, health.json()["status"]) == (200, "alive")
    assert ready.status_code == 200
    assert json.loads(ready.content)["supplier"] == "reachable"


def _fault_detail_valid(body: bytes) -> bool:
    """The `<op>Fault` element validates against the contract (common:CBSSFaultType)."""
    element = payload(body)
    (detail,) = list(element.find("detail"))
    return SERVICE_XSD.first_error(detail) is None


def test_unknown_body_element_is_msg00004(as_client: CallerFactory) -> None:
    body = career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159").replace(
        "consultCareerRequest", "consultPensionRequest"
    )
    answer = fault(as_client("cpas-namur").post(body).content)
    assert answer["details"][0]["reasonCode"] == "MSG00004"  # type: ignore[index]
    assert re.search("consultPensionRequest", answer["details"][0]["information"][0][1])  # type: ignore[index]


def test_real_responses_validate_against_the_published_common_v3(
    as_client: CallerFactory,
) -> None:
    """R-07: informationCustomer, informationCBSS, status, ssin, dataFilters and the fault
    detail of real responses validate against BCSS's published CommonV3.xsd."""
    published = PublishedCommon()
    bodies = [
        as_client("cpas-namur").post(
            career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159", "2000-01-01")
        ),
        as_client("onss-inspection").post(
            career_request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "82041241406")
        ),
        as_client("onss-inspection").post(
            contributions_request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159", "2025Q1")
        ),
        as_client("cpas-namur").post(b"not xml"),
        as_client("stranger").post(career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159")),
    ]
    seen: set[str] = set()
    for response in bodies:
        element = payload(response.content)
        if element.tag.endswith("}Fault"):
            (element,) = list(element.find("detail"))
        assert published.errors(element) == {}
        seen.update(type_name for type_name, _ in published.blocks(element))
    assert seen == {
        "InformationCustomerType",
        "InformationCBSSType",
        "StatusType",
        "SsinWithCanceledAndReplacesStatusType",
        "DataFiltersType",
        "CBSSFaultType",
    }
