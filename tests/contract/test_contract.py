"""Contract tests: the hand-written XSD/WSDL files, the sample messages, BCSS's published
CommonV3.xsd and zeep (specification sections 2, 6, 8 and 10)."""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import zeep
from lxml import etree
from zeep.exceptions import Fault
from zeep.transports import Transport

from tests.support.paths import PROJECT
from tests.support.published import PUBLISHED_COMMON_SHA256, published_common_xsd

ROOT = PROJECT
XSD_DIR = ROOT / "xsd"
MAIN_XSD = XSD_DIR / "SelfEmployedV2.xsd"
WSDL_PATH = ROOT / "wsdl" / "SelfEmployedV2.wsdl"
SAMPLES = Path(__file__).resolve().parent / "samples"

SES_NS = "http://kszbcss.fgov.be/intf/SelfEmployedService/v2"
COMMON_NS = "http://kszbcss.fgov.be/types/common/v3"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
SOAPENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WRAPPER_NS = "urn:selfemployed-gateway:test:common-wrapper"


OWN_XSDS = ("SelfEmployedCommonTypesV1.xsd", "SelfEmployedTypesV2.xsd", "SelfEmployedV2.xsd")
CONTRACT_FILES = ("CommonV3.xsd", *OWN_XSDS)

VALID_SAMPLES = sorted(p for p in SAMPLES.glob("*.xml") if not p.name.startswith("invalid-"))
INVALID_SAMPLES = sorted(SAMPLES.glob("invalid-*.xml"))

# Top-level blocks of a response (or request) that are common:* types.
COMMON_BLOCKS = {
    "informationCustomer": "InformationCustomerType",
    "informationCBSS": "InformationCBSSType",
    "status": "StatusType",
    "ssin": "SsinWithCanceledAndReplacesStatusType",
    "dataFilters": "DataFiltersType",
}
FAULT_TYPE = "CBSSFaultType"


# The published file itself: the project's copy, proven identical by its pinned digest.
PUBLISHED_COMMON = published_common_xsd()


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(MAIN_XSD)))


# --------------------------------------------------------------------------- samples vs XSD


def test_samples_present() -> None:
    names = {p.name for p in VALID_SAMPLES}
    for top in (
        "consultCareerRequest",
        "consultContributionsRequest",
        "consultCareerResponse",
        "consultContributionsResponse",
        "consultCareerFault",
    ):
        assert any(n.startswith(top) for n in names), top
    assert len(INVALID_SAMPLES) >= 5


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_valid_sample(schema: etree.XMLSchema, sample: Path) -> None:
    doc = etree.parse(str(sample))
    assert schema.validate(doc), str(schema.error_log)
    assert etree.QName(doc.getroot()).namespace == SES_NS
    # Only the top element is qualified (elementFormDefault="unqualified").
    for el in doc.getroot().iterdescendants(tag=etree.Element):
        assert etree.QName(el).namespace is None, el.tag


@pytest.mark.parametrize("sample", INVALID_SAMPLES, ids=lambda p: p.name)
def test_invalid_sample(schema: etree.XMLSchema, sample: Path) -> None:
    assert not schema.validate(etree.parse(str(sample)))


def test_invalid_samples_fail_for_the_intended_reason(schema: etree.XMLSchema) -> None:
    expected = {
        "invalid-consultCareerRequest-wrongOrder.xml": "Element 'legalContext'",
        "invalid-consultCareerRequest-periodBeforeSsin.xml": "Element 'period'",
        "invalid-consultCareerRequest-unknownElement.xml": "Element 'language'",
        "invalid-consultCareerRequest-badSsin.xml": "Element 'ssin'",
        "invalid-consultCareerRequest-noCriteria.xml": "Expected is ( criteria )",
        "invalid-consultCareerRequest-qualifiedChildren.xml": "informationCustomer",
        "invalid-consultContributionsRequest-quarterQ5.xml": "2024Q5",
        "invalid-consultContributionsRequest-noPeriod.xml": "Expected is ( period )",
        "invalid-consultCareerResponse-equalityBeforeContribution.xml": "Element 'equality'",
        "invalid-consultContributionsResponse-dataFilters.xml": "Element 'dataFilters'",
    }
    assert {p.name for p in INVALID_SAMPLES} == set(expected)
    for sample in INVALID_SAMPLES:
        assert not schema.validate(etree.parse(str(sample)))
        assert expected[sample.name] in str(schema.error_log), (sample.name, schema.error_log)


def test_digest_texts_in_samples() -> None:
    """The status and fault texts are those of the spec digest (sections 3, 8, 10)."""
    found = etree.parse(str(SAMPLES / "consultCareerResponse-dataFound.xml")).getroot()
    assert found.findtext("status/value") == "DATA_FOUND"
    assert found.findtext("status/code") == "MSG00000"
    assert found.findtext("status/description") == "Treatment successful"

    none = etree.parse(str(SAMPLES / "consultCareerResponse-noDataFound.xml")).getroot()
    assert none.findtext("status/code") == "MSG00100"
    assert none.findtext("status/information/fieldName") == "Reason"
    assert none.findtext("status/information/fieldValue") in {
        "No data for requested person",
        "No data for requested period",
    }
    assert none.find("career") is None

    replaced = etree.parse(str(SAMPLES / "consultCareerResponse-replaced.xml")).getroot()
    assert replaced.findtext("status/value") == "NO_RESULT"
    assert replaced.findtext("status/code") == "MSG00006"
    ssin = replaced.find("ssin")
    assert ssin is not None
    assert (ssin.get("replaces"), ssin.text) == ("80022904503", "90101007731")

    fault = etree.parse(str(SAMPLES / "consultCareerFault.xml")).getroot()
    assert fault.findtext("detail/reasonCode") == "MSG00004"
    assert fault.findtext("detail/diagnostic") == "The request has an invalid structure"
    assert fault.findtext("detail/authorCode") == "http://www.ksz-bcss.fgov.be/"
    assert fault.findtext("detail/information/fieldName") == "error message"

    contrib = etree.parse(str(SAMPLES / "consultContributionsResponse-dataFound.xml")).getroot()
    quarters = contrib.findall("contributions/contribution")
    assert [q.find("ziv") is not None for q in quarters] == [True, False]


# --------------------------------------------------------------------------- schema files


def test_common_v3_copy_is_byte_identical() -> None:
    data = (XSD_DIR / "CommonV3.xsd").read_bytes()
    assert hashlib.sha256(data).hexdigest() == PUBLISHED_COMMON_SHA256


@pytest.mark.parametrize("name", OWN_XSDS)
def test_own_schema_style(name: str) -> None:
    root = etree.parse(str(XSD_DIR / name)).getroot()
    assert root.tag == f"{{{XSD_NS}}}schema"
    assert root.get("elementFormDefault") == "unqualified"
    assert root.get("attributeFormDefault") == "unqualified"
    assert root.get("version")
    assert root.nsmap.get("xsd") == XSD_NS
    # Every element and type is documented (BCSS style).
    for el in root.iter(
        f"{{{XSD_NS}}}element", f"{{{XSD_NS}}}complexType", f"{{{XSD_NS}}}simpleType"
    ):
        doc = el.find(f"{{{XSD_NS}}}annotation/{{{XSD_NS}}}documentation")
        assert doc is not None and (doc.text or "").strip(), (name, el.get("name"))
        assert "\n" not in doc.text.strip(), (name, el.get("name"))


def _schema_locations(path: Path) -> list[str]:
    root = etree.parse(str(path)).getroot()
    return [
        el.get("schemaLocation")
        for el in root.iter(f"{{{XSD_NS}}}import", f"{{{XSD_NS}}}include")
        if el.get("schemaLocation") is not None
    ]


def test_schema_locations_follow_the_serving_convention() -> None:
    """The server rewrites schemaLocation to ?xsd=<file name>: XSDs refer to bare file names,
    the WSDL to ../xsd/<file>, and every referenced file exists."""
    for name in CONTRACT_FILES:
        for loc in _schema_locations(XSD_DIR / name):
            assert "/" not in loc and loc in CONTRACT_FILES, (name, loc)
    wsdl_locs = _schema_locations(WSDL_PATH)
    assert wsdl_locs == ["../xsd/SelfEmployedV2.xsd"]


def test_types_documented_names() -> None:
    common = etree.parse(str(XSD_DIR / "SelfEmployedCommonTypesV1.xsd")).getroot()
    names = {el.get("name") for el in common}
    assert {
        "SocialInsuranceFundType",
        "SelfEmployedQualityType",
        "ContributionCategoryType",
        "EqualityType",
        "OccupationType",
        "ContributionSituationType",
        "ZivType",
        "NisseReferenceType",
    } <= names


# --------------------------------------------------------------------------- published CommonV3


@pytest.fixture(scope="module")
def published_common_schema(tmp_path_factory: pytest.TempPathFactory) -> etree.XMLSchema:
    """A tiny schema importing the PUBLISHED CommonV3 and declaring one element per common type."""
    types = sorted({*COMMON_BLOCKS.values(), FAULT_TYPE})
    elements = "\n".join(f'\t<xsd:element name="{t}" type="common:{t}"/>' for t in types)
    text = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<xsd:schema xmlns:xsd="{XSD_NS}" xmlns:common="{COMMON_NS}" '
        f'targetNamespace="{WRAPPER_NS}" elementFormDefault="unqualified" '
        f'attributeFormDefault="unqualified">\n'
        f'\t<xsd:import namespace="{COMMON_NS}" schemaLocation="{PUBLISHED_COMMON.as_uri()}"/>\n'
        f"{elements}\n"
        f"</xsd:schema>\n"
    )
    path = tmp_path_factory.mktemp("wrapper") / "CommonWrapper.xsd"
    path.write_text(text, encoding="utf-8")
    return etree.XMLSchema(etree.parse(str(path)))


def _rewrap(block: etree._Element, type_name: str) -> etree._Element:
    wrapped = etree.Element(f"{{{WRAPPER_NS}}}{type_name}", attrib=dict(block.attrib))
    wrapped.text = block.text
    for child in block:
        wrapped.append(copy.deepcopy(child))
    return wrapped


def _common_blocks(root: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    if _local(root).endswith("Fault"):
        yield FAULT_TYPE, root
        return
    for child in root:
        name = COMMON_BLOCKS.get(_local(child))
        if name is not None:
            yield name, child


def test_common_blocks_valid_against_published_common_v3(
    published_common_schema: etree.XMLSchema,
) -> None:
    checked: set[str] = set()
    for sample in VALID_SAMPLES:
        for type_name, block in _common_blocks(etree.parse(str(sample)).getroot()):
            wrapped = _rewrap(block, type_name)
            assert published_common_schema.validate(wrapped), (
                sample.name,
                type_name,
                str(published_common_schema.error_log),
            )
            checked.add(type_name)
    # Every common type was exercised, including the ssin attributes of R-52.
    assert checked == {*COMMON_BLOCKS.values(), FAULT_TYPE}


def test_published_wrapper_rejects_a_broken_block(
    published_common_schema: etree.XMLSchema,
) -> None:
    root = etree.parse(str(SAMPLES / "consultCareerResponse-replaced.xml")).getroot()
    ssin = root.find("ssin")
    assert ssin is not None
    bad = _rewrap(ssin, "SsinWithCanceledAndReplacesStatusType")
    bad.set("replacedBy", "80022904503")  # the other common type's attribute
    assert not published_common_schema.validate(bad)


# --------------------------------------------------------------------------- WSDL with zeep


def _load_client(wsdl: str, transport: Transport | None = None) -> zeep.Client:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return zeep.Client(wsdl, transport=transport)


@pytest.fixture(scope="module")
def client() -> zeep.Client:
    return _load_client(str(WSDL_PATH))


def test_wsdl_loads_in_zeep_without_warnings(
    recwarn: pytest.WarningsRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        _load_client(str(WSDL_PATH))
    assert len(recwarn) == 0, [str(w.message) for w in recwarn]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_wsdl_service_binding_operations(client: zeep.Client) -> None:
    services = client.wsdl.services
    assert list(services) == ["SelfEmployedService"]
    ports = services["SelfEmployedService"].ports
    assert list(ports) == ["SelfEmployedService"]
    port = ports["SelfEmployedService"]
    assert port.binding_options["address"] == (
        "https://127.0.0.1:4520/SelfEmployedService/v2/consult"
    )
    binding = port.binding
    assert type(binding).__name__ == "Soap11Binding"
    assert binding.name == etree.QName(SES_NS, "SelfEmployedServiceHTTPBinding")
    assert binding.port_type.name == etree.QName(SES_NS, "SelfEmployedServicePortType")
    assert set(binding._operations) == {"consultCareer", "consultContributions"}
    for op_name in ("consultCareer", "consultContributions"):
        op = binding.get(op_name)
        assert op.soapaction == f"http://kszbcss.fgov.be/intf/SelfEmployedService/{op_name}"
        assert op.style == "document"
        assert op.input.body.qname == etree.QName(SES_NS, f"{op_name}Request")
        assert op.output.body.qname == etree.QName(SES_NS, f"{op_name}Response")
        assert list(op.faults) == [f"{op_name}Fault"]


def test_wsdl_messages_and_parts() -> None:
    root = etree.parse(str(WSDL_PATH)).getroot()
    wsdl_ns = "http://schemas.xmlsoap.org/wsdl/"
    assert root.get("name") == "SelfEmployedService"
    assert root.get("targetNamespace") == SES_NS
    parts = {
        m.get("name"): (p.get("name"), p.get("element"))
        for m in root.iter(f"{{{wsdl_ns}}}message")
        for p in m.iter(f"{{{wsdl_ns}}}part")
    }
    expected = {}
    for op in ("consultCareer", "consultContributions"):
        for kind in ("Request", "Response", "Fault"):
            expected[f"{op}{kind}Msg"] = (f"{op}{kind}Parameters", f"tns:{op}{kind}")
    assert parts == expected
    soap_ns = "http://schemas.xmlsoap.org/wsdl/soap/"
    faults = [(f.get("name"), f.get("use")) for f in root.iter(f"{{{soap_ns}}}fault")]
    assert faults == [("consultCareerFault", "literal"), ("consultContributionsFault", "literal")]
    binding = root.find(f"{{{wsdl_ns}}}binding/{{{soap_ns}}}binding")
    assert binding is not None
    assert binding.get("style") == "document"
    assert binding.get("transport") == "http://schemas.xmlsoap.org/soap/http"


def _body_payload(envelope: etree._Element) -> etree._Element:
    body = envelope.find(f"{{{SOAPENV_NS}}}Body")
    assert body is not None and len(body) == 1
    return body[0]


INFORMATION_CUSTOMER = {
    "ticket": "zeep-ticket-1",
    "timestampSent": "2026-11-26T09:00:00.000Z",
    "customerIdentification": {"cbeNumber": "0212345668"},
}


def test_zeep_consult_career_request_validates(
    client: zeep.Client, schema: etree.XMLSchema
) -> None:
    envelope = client.create_message(
        client.service,
        "consultCareer",
        informationCustomer=INFORMATION_CUSTOMER,
        legalContext="PCSA:SOCIAL_INQUIRY",
        criteria={"ssin": "65031510159", "period": {"beginDate": "2000-01-01"}},
    )
    payload = _body_payload(envelope)
    assert payload.tag == f"{{{SES_NS}}}consultCareerRequest"
    assert schema.validate(payload), str(schema.error_log)


def test_zeep_consult_career_request_sector_identification(
    client: zeep.Client, schema: etree.XMLSchema
) -> None:
    envelope = client.create_message(
        client.service,
        "consultCareer",
        informationCustomer={"customerIdentification": {"sector": 7, "institution": 2}},
        legalContext="FAMILY_ALLOWANCES:ENTITLEMENT",
        criteria={"ssin": "65031510159"},
    )
    assert schema.validate(_body_payload(envelope)), str(schema.error_log)


def test_zeep_consult_contributions_request_validates(
    client: zeep.Client, schema: etree.XMLSchema
) -> None:
    envelope = client.create_message(
        client.service,
        "consultContributions",
        informationCustomer=INFORMATION_CUSTOMER,
        legalContext="PCSA:SOCIAL_INQUIRY",
        criteria={"ssin": "65031510159", "period": {"beginQuarter": "2024Q1"}},
    )
    payload = _body_payload(envelope)
    assert payload.tag == f"{{{SES_NS}}}consultContributionsRequest"
    assert schema.validate(payload), str(schema.error_log)


def _envelope(payload: etree._Element) -> etree._Element:
    env = etree.Element(f"{{{SOAPENV_NS}}}Envelope", nsmap={"soapenv": SOAPENV_NS})
    etree.SubElement(env, f"{{{SOAPENV_NS}}}Body").append(copy.deepcopy(payload))
    return env


def test_zeep_reads_sample_responses(client: zeep.Client) -> None:
    binding = client.service._binding
    career = binding.get("consultCareer")
    found = career.process_reply(
        _envelope(etree.parse(str(SAMPLES / "consultCareerResponse-dataFound.xml")).getroot())
    )
    assert found.status.code == "MSG00000"
    assert len(found.career.affiliations.affiliation) == 2
    segments = found.career.affiliations.affiliation[0].careerSegments.careerSegment
    assert segments[1].equality.code == 130
    open_segment = found.career.affiliations.affiliation[1].careerSegments.careerSegment[0]
    assert open_segment.period.endDate is None

    replaced = career.process_reply(
        _envelope(etree.parse(str(SAMPLES / "consultCareerResponse-replaced.xml")).getroot())
    )
    assert replaced.ssin._value_1 == "90101007731"
    assert replaced.ssin.replaces == "80022904503"

    contributions = binding.get("consultContributions").process_reply(
        _envelope(
            etree.parse(str(SAMPLES / "consultContributionsResponse-dataFound.xml")).getroot()
        )
    )
    quarters = contributions.contributions.contribution
    assert [q.quarter for q in quarters] == ["2020Q1", "2020Q2"]
    assert quarters[0].ziv.code == 1 and quarters[1].ziv is None


def test_zeep_reads_sample_fault(client: zeep.Client) -> None:
    env = etree.Element(f"{{{SOAPENV_NS}}}Envelope", nsmap={"soapenv": SOAPENV_NS})
    fault = etree.SubElement(
        etree.SubElement(env, f"{{{SOAPENV_NS}}}Body"), f"{{{SOAPENV_NS}}}Fault"
    )
    etree.SubElement(fault, "faultcode").text = "soapenv:Client"
    etree.SubElement(fault, "faultstring").text = "The request has an invalid structure"
    etree.SubElement(fault, "faultactor").text = "http://www.ksz-bcss.fgov.be"
    detail = etree.SubElement(fault, "detail")
    detail.append(etree.parse(str(SAMPLES / "consultCareerFault.xml")).getroot())

    binding = client.service._binding
    with pytest.raises(Fault) as info:
        binding.process_error(env, binding.get("consultCareer"))
    assert info.value.code == "soapenv:Client"
    assert info.value.actor == "http://www.ksz-bcss.fgov.be"
    element = client.get_element(f"{{{SES_NS}}}consultCareerFault")
    parsed = element.parse(info.value.detail[0], client.wsdl.types)
    assert parsed.detail[0].reasonCode == "MSG00004"


def test_zeep_loads_the_contract_as_the_server_serves_it() -> None:
    """Simulates `GET …/consult?wsdl` and `?xsd=<file>`: schemaLocations rewritten to
    `?xsd=<file name>`; zeep must resolve every import, without warnings."""
    base = "https://gateway.example:4520/SelfEmployedService/v2/consult"
    location = re.compile(r'schemaLocation="(?:\.\./xsd/)?([A-Za-z0-9]+\.xsd)"')

    def served(path: Path) -> bytes:
        text = path.read_text(encoding="utf-8")
        return location.sub(r'schemaLocation="?xsd=\1"', text).encode("utf-8")

    documents = {f"{base}?wsdl": served(WSDL_PATH)}
    documents.update({f"{base}?xsd={name}": served(XSD_DIR / name) for name in CONTRACT_FILES})
    requested: list[str] = []

    class ServedTransport(Transport):
        def _load_remote_data(self, url: str) -> bytes:
            requested.append(url)
            return documents[url]

    served_client = _load_client(f"{base}?wsdl", transport=ServedTransport())
    assert set(requested) == set(documents)
    assert served_client.get_element(f"{{{SES_NS}}}consultContributionsResponse") is not None
