"""End-to-end: the transitional phase through L302, switched by environment alone.

R-60 (no consultContributions: MSG00025), R-62 (phase switch without code change), R-63
(L302 conversion: attestationID, qualities 100/300/400, descriptions from the gateway's code
tables, no occupation, no signatureDate), R-22 (L302 failures).
"""

from __future__ import annotations

import time

import pytest

from selfemployed_gateway.dataset import load_dataset
from tests.e2e.conftest import DATASET, CallerFactory, GatewayFactory
from tests.support.soap import (
    SES,
    canonical,
    career_request,
    contributions_request,
    customer,
    expected,
    fault,
    payload,
    status,
)

ONSS = customer(sector=21, institution=0)
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
CODES = load_dataset(DATASET).codes
TRANSITIONAL = {"SEG_PHASE": "transitional"}


@pytest.fixture(scope="module")
def transitional(gateway_with: GatewayFactory) -> CallerFactory:
    """The same configuration as the final-phase gateway; only SEG_PHASE differs."""
    return gateway_with(env=TRANSITIONAL)


def coded(table: str, code: str) -> str:
    texts = getattr(CODES, table)[code]
    return f"<code>{code}</code>" + "".join(
        f'<description language="{language}">{getattr(texts, language)}</description>'
        for language in ("FR", "NL", "DE")
    )


def segment(
    begin: str, end: str | None, quality: str, contribution: str, equality: str | None = None
) -> str:
    return (
        f"<careerSegment><period><beginDate>{begin}</beginDate>"
        + (f"<endDate>{end}</endDate>" if end else "")
        + f"</period><selfEmployedQuality>{coded('selfEmployedQuality', quality)}"
        f"</selfEmployedQuality><contribution>{coded('contribution', contribution)}"
        "</contribution>"
        + (f"<equality>{coded('equality', equality)}</equality>" if equality else "")
        + "</careerSegment>"
    )


def test_career_through_l302(transitional: CallerFactory) -> None:
    """R-63: attestationID as nisseReference, no occupation, no signatureDate, descriptions
    FR/NL/DE from the gateway's code tables, equality from the assimilation code."""
    response = transitional("onss-inspection").post(career_request(ONSS, CONTEXT, "65031510159"))
    assert response.status_code == 200
    element = payload(response.content)
    career = element.find("career")
    assert career is not None
    assert canonical(career) == expected(
        "<career><nisseReference>L3020000000101</nisseReference>"
        "<selfEmployedEnterpriseNumber>0567890161</selfEmployedEnterpriseNumber>"
        "<affiliations><affiliation><socialInsuranceFund>"
        "<enterpriseNumber>0409085424</enterpriseNumber><code>010</code>"
        "</socialInsuranceFund><careerSegments>"
        + segment("1990-01-01", "1999-12-31", "100", "101")
        + segment("2000-01-01", "2000-06-30", "100", "101", "130")
        + "</careerSegments></affiliation><affiliation><socialInsuranceFund>"
        "<enterpriseNumber>0409081464</enterpriseNumber><code>002</code>"
        "</socialInsuranceFund><careerSegments>"
        + segment("2000-07-01", None, "100", "104")
        + "</careerSegments></affiliation></affiliations></career>"
    )
    assert status(element)["code"] == "MSG00000"


def test_aidant_cannot_be_derived_from_l302(transitional: CallerFactory) -> None:
    """R-63: qualities 100, 300, 400 only: the 2025–2026 'aidant' segment comes as 100."""
    element = payload(
        transitional("onss-inspection").post(career_request(ONSS, CONTEXT, "72060120261")).content
    )
    qualities = [s.findtext("selfEmployedQuality/code") for s in element.iter("careerSegment")]
    contributions = [s.findtext("contribution/code") for s in element.iter("careerSegment")]
    assert qualities == ["100", "100", "100"]
    assert contributions == ["101", "107", "101"]


def test_helping_spouse_quality(transitional: CallerFactory) -> None:
    """R-63: category L (helping spouse, maxi-status) → quality 300, contribution 112."""
    element = payload(
        transitional("onss-inspection").post(career_request(ONSS, CONTEXT, "90101007731")).content
    )
    assert [
        (s.findtext("selfEmployedQuality/code"), s.findtext("contribution/code"))
        for s in element.iter("careerSegment")
    ] == [("300", "112")]


def test_contributions_are_not_available(transitional: CallerFactory) -> None:
    """R-60: fault MSG00025, information `operation not supported` = consultContributions."""
    response = transitional("onss-inspection").post(
        contributions_request(ONSS, CONTEXT, "65031510159", "2025Q1")
    )
    assert response.status_code == 500
    answer = fault(response.content)
    assert answer["element"] == f"{{{SES}}}consultContributionsFault"
    assert (answer["faultcode"], answer["faultstring"]) == (
        "soapenv:Server",
        "This functionality is not available",
    )
    assert answer["details"] == [
        {
            "severity": "FATAL",
            "reasonCode": "MSG00025",
            "diagnostic": "This functionality is not available",
            "authorCode": "http://www.ksz-bcss.fgov.be/",
            "information": [("operation not supported", "consultContributions")],
        }
    ]


@pytest.mark.parametrize(
    ("ssin", "details"),
    [
        ("93030322213", "SoapFault received during L302 call to supplier"),
        ("47061501777", "Unexpected response from supplier"),
    ],
)
def test_l302_failures_are_msg00002(transitional: CallerFactory, ssin: str, details: str) -> None:
    """R-22: the L302 `details` of MSG00002."""
    answer = fault(
        transitional("onss-inspection").post(career_request(ONSS, CONTEXT, ssin)).content
    )
    assert answer["faultcode"] == "soapenv:Server"
    assert answer["details"][0]["reasonCode"] == "MSG00002"  # type: ignore[index]
    assert answer["details"][0]["information"] == [("details", details)]  # type: ignore[index]


def test_l302_statuses(transitional: CallerFactory) -> None:
    """R-22: L302 refusals: under investigation → SES00006; unknown person → MSG00100."""
    investigation = payload(
        transitional("onss-inspection").post(career_request(ONSS, CONTEXT, "85111115024")).content
    )
    unknown = payload(
        transitional("onss-inspection").post(career_request(ONSS, CONTEXT, "82041241406")).content
    )
    assert status(investigation)["code"] == "SES00006"
    assert status(unknown)["information"] == [("Reason", "No data for requested person")]


def test_slow_l302_is_cut_at_the_time_budget(transitional: CallerFactory) -> None:
    """R-65: answered within budget (2 s) + 0.5 s."""
    started = time.monotonic()
    answer = fault(
        transitional("onss-inspection").post(career_request(ONSS, CONTEXT, "64082006457")).content
    )
    assert time.monotonic() - started <= 2.5
    assert answer["details"][0]["information"] == [  # type: ignore[index]
        ("details", "No answer from supplier within the time budget")
    ]


def test_final_phase_unchanged_beside_it(as_client: CallerFactory) -> None:
    """R-62: the default configuration is still final: INASTI's own nisseReference."""
    element = payload(
        as_client("onss-inspection").post(career_request(ONSS, CONTEXT, "65031510159")).content
    )
    assert element.findtext("career/nisseReference") == "RGTI0000000101"
    assert element.findtext("career/occupation/code") == "620100"
