"""End-to-end: every status code of the annex and every client mode.

Over real mutual TLS with the dataset's client certificates; the gateway's clock is frozen
at 2026-11-26 (Brussels) unless a test starts one at another date. Each answer is asserted
on value, code, description, informations and the `ssin` element (R-52).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from tests.e2e.conftest import DATASET, CallerFactory, GatewayFactory
from tests.support.soap import (
    SES,
    career_request,
    contributions_request,
    customer,
    fault,
    payload,
    status,
)

CPAS = customer(cbe="0212345668")
FAMIFUND = customer(sector=7, institution=2)
RIZIV = customer(cbe="0234567873")
ONSS = customer(sector=21, institution=0)
PENSION = customer(cbe="0345678997")
SUSPENDED = customer(cbe="0456789034")

CALLERS = {
    "cpas-namur": (CPAS, "PCSA:SOCIAL_INQUIRY"),
    "famifund-east": (FAMIFUND, "FAMILY_ALLOWANCES:ENTITLEMENT"),
    "riziv-medical": (RIZIV, "HEALTH_INSURANCE:INCAPACITY"),
    "onss-inspection": (ONSS, "SOCIAL_INSPECTION:INVESTIGATION"),
    "pension-office": (PENSION, "PENSION:CAREER_CHECK"),
    "suspended-institution": (SUSPENDED, "OTHER:ANY"),
}

INVALID_DATA = "The request contains invalid data. Please check your message content."
NOT_INTEGRATED = "The SSIN is not sufficiently integrated for your organization"


def career(
    callers: CallerFactory,
    client: str,
    ssin: str,
    begin: str | None = None,
    end: str | None = None,
) -> etree._Element:
    information_customer, legal_context = CALLERS[client]
    response = callers(client).post(
        career_request(information_customer, legal_context, ssin, begin, end)
    )
    assert response.status_code == 200, response.text
    return payload(response.content)


def contributions(
    callers: CallerFactory, client: str, ssin: str, begin: str, end: str | None = None
) -> etree._Element:
    information_customer, legal_context = CALLERS[client]
    response = callers(client).post(
        contributions_request(information_customer, legal_context, ssin, begin, end)
    )
    assert response.status_code == 200, response.text
    return payload(response.content)


def ssin_element(element: etree._Element) -> tuple[str | None, dict[str, str]] | None:
    found = element.find("ssin")
    return None if found is None else (found.text, dict(found.attrib))


def no_result(code: str, description: str, *information: tuple[str, str | None]) -> dict:
    return {
        "value": "NO_RESULT",
        "code": code,
        "description": description,
        "information": list(information),
    }


# --- NISS (R-16 …) -----------------------------------------------------------


def test_msg00005_unknown_ssin(as_client: CallerFactory) -> None:
    """R-17: not in the register; no ssin element (R-52)."""
    element = career(as_client, "cpas-namur", "75010199968")
    assert status(element) == no_result("MSG00005", "The INSZ given in request does not exist.")
    assert ssin_element(element) is None


def test_msg00006_replaced_ssin_names_the_new_number(as_client: CallerFactory) -> None:
    """R-18, R-52: blocked, `<ssin replaces="A">B</ssin>`."""
    element = career(as_client, "cpas-namur", "80022904503")
    assert status(element) == no_result("MSG00006", "The INSZ given in request is replaced")
    assert ssin_element(element) == ("90101007731", {"replaces": "80022904503"})
    assert element.find("career") is None


def test_msg00011_checksum(as_client: CallerFactory) -> None:
    """R-16: pattern-valid, checksum-invalid; no ssin element."""
    element = career(as_client, "cpas-namur", "65031510158")
    assert status(element) == no_result(
        "MSG00011", "The structure of the INSZ given in request is invalid"
    )
    assert ssin_element(element) is None


def test_ssin_breaking_the_pattern_is_msg00004(as_client: CallerFactory) -> None:
    """R-16 [decision]: a value breaking common:SsinType is MSG00004."""
    response = as_client("cpas-namur").post(
        career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65131510159")
    )
    answer = fault(response.content)
    assert answer["details"][0]["reasonCode"] == "MSG00004"  # type: ignore[index]


def test_canceled_ssin_is_served_with_canceled_true(as_client: CallerFactory) -> None:
    """R-19, R-52: a canceled NISS is allowed; `<ssin canceled="true">`."""
    element = career(as_client, "cpas-namur", "58112403357", "1985-01-01", "1990-12-31")
    assert status(element)["code"] == "MSG00000"
    assert ssin_element(element) == ("58112403357", {"canceled": "true"})
    assert element.findtext("career/nisseReference") == "RGTI0000000303"


# --- dates (R-30 … R-37) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("begin", "end", "violations"),
    [
        ("1956-06-30", None, ["beginDate before 01/07/1956"]),
        ("2010-01-01", "2009-12-31", ["endDate before beginDate"]),
        ("2026-11-27", None, ["endDate or beginDate in the future"]),
        ("2020-01-01", "2026-11-27", ["endDate or beginDate in the future"]),
        ("1956-06-30", "1956-06-29", ["beginDate before 01/07/1956", "endDate before beginDate"]),
        (
            "1950-01-01",
            "2027-01-01",
            ["beginDate before 01/07/1956", "endDate or beginDate in the future"],
        ),
        (
            "2030-01-01",
            "2029-01-01",
            ["endDate before beginDate", "endDate or beginDate in the future"],
        ),
    ],
)
def test_msg00008_career_period(
    as_client: CallerFactory, begin: str, end: str | None, violations: list[str]
) -> None:
    """R-15, R-30 … R-32: one information per violated rule, all together; no ssin."""
    element = career(as_client, "onss-inspection", "65031510159", begin, end)
    assert status(element) == no_result(
        "MSG00008", INVALID_DATA, *(("Invalid Period", v) for v in violations)
    )
    assert ssin_element(element) is None


@pytest.mark.parametrize(("begin", "end"), [("1956-07-01", "2026-11-26"), ("2026-11-26", None)])
def test_career_period_boundaries_are_accepted(
    as_client: CallerFactory, begin: str, end: str | None
) -> None:
    """R-30, R-32: 01/07/1956 and today are allowed."""
    element = career(as_client, "onss-inspection", "65031510159", begin, end)
    assert status(element)["code"] == "MSG00000"


@pytest.mark.parametrize(
    ("begin", "end", "violations"),
    [
        ("2016Q3", None, ["beginQuarter is more than 10 years ago"]),
        ("2024Q2", "2024Q1", ["endQuarter before beginQuarter"]),
        ("2027Q1", None, ["endQuarter or beginQuarter in the future"]),
        ("2026Q4", "2027Q1", ["endQuarter or beginQuarter in the future"]),
        (
            "2010Q1",
            "2027Q1",
            ["beginQuarter is more than 10 years ago", "endQuarter or beginQuarter in the future"],
        ),
        (
            "2016Q1",
            "2015Q4",
            ["beginQuarter is more than 10 years ago", "endQuarter before beginQuarter"],
        ),
    ],
)
def test_msg00008_quarter_period(
    as_client: CallerFactory, begin: str, end: str | None, violations: list[str]
) -> None:
    """R-34 … R-36; the earliest quarter contains 2016-11-26, so 2016Q4 is allowed."""
    element = contributions(as_client, "onss-inspection", "65031510159", begin, end)
    assert status(element) == no_result(
        "MSG00008", INVALID_DATA, *(("Invalid Quarter Period", v) for v in violations)
    )


def test_quarter_boundaries_are_accepted(as_client: CallerFactory) -> None:
    """R-34, R-36: 2016Q4 (10 years) up to the current quarter 2026Q4."""
    element = contributions(as_client, "onss-inspection", "65031510159", "2016Q4", "2026Q4")
    assert status(element)["code"] == "MSG00000"
    quarters = [q.text for q in element.iter("quarter")]
    assert quarters[0] == "2016Q4"
    assert quarters == sorted(quarters)


# --- authorisation (R-12 … R-14) --------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "information_customer", "legal_context", "operation"),
    [
        # operation not allowed for the client
        ("pension-office", PENSION, "PENSION:CAREER_CHECK", "contributions"),
        # legal context not among the client's
        ("cpas-namur", CPAS, "PENSION:CAREER_CHECK", "career"),
        # informationCustomer names another institution
        ("cpas-namur", RIZIV, "PCSA:SOCIAL_INQUIRY", "career"),
        (
            "famifund-east",
            customer(sector=7, institution=3),
            "FAMILY_ALLOWANCES:ENTITLEMENT",
            "career",
        ),
    ],
    ids=["operation", "legal-context", "cbe-number", "sector-institution"],
)
def test_msg00013(
    as_client: CallerFactory,
    client: str,
    information_customer: str,
    legal_context: str,
    operation: str,
) -> None:
    """R-13: NO_RESULT MSG00013 for each of its causes; no ssin."""
    if operation == "career":
        request = career_request(information_customer, legal_context, "65031510159")
    else:
        request = contributions_request(
            information_customer, legal_context, "65031510159", "2025Q1"
        )
    element = payload(as_client(client).post(request).content)
    assert status(element) == no_result(
        "MSG00013",
        "Access to this operation is not allowed with the given legalcontext and credentials.",
    )
    assert ssin_element(element) is None


def test_msg00015_service_not_allowed(as_client: CallerFactory) -> None:
    """R-12: the suspended institution may not use the service."""
    response = as_client("suspended-institution").post(
        career_request(SUSPENDED, "OTHER:ANY", "65031510159")
    )
    assert response.status_code == 500
    answer = fault(response.content)
    assert (answer["faultcode"], answer["faultstring"]) == (
        "soapenv:Client",
        "AAAPolicy Authorization Refused",
    )
    assert answer["details"][0]["reasonCode"] == "MSG00015"  # type: ignore[index]


@pytest.fixture(scope="module")
def inconsistent_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference dataset, except that riziv-medical filters an element that does not
    exist (R-14)."""
    raw = json.loads(DATASET.read_text(encoding="utf-8"))
    for client in raw["clients"]:
        if client["id"] == "riziv-medical":
            client["filters"] = ["birthDate"]
    path = tmp_path_factory.mktemp("inconsistent") / "dataset.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def test_msg00003_inconsistent_client_configuration(
    gateway_with: GatewayFactory, inconsistent_dataset: Path
) -> None:
    """R-14: the inconsistent client gets MSG00003 with the R-14 information; others do not."""
    callers = gateway_with(dataset=inconsistent_dataset)
    response = callers("riziv-medical").post(
        career_request(RIZIV, "HEALTH_INSURANCE:INCAPACITY", "65031510159")
    )
    assert response.status_code == 500
    answer = fault(response.content)
    assert (answer["faultcode"], answer["faultstring"]) == ("soapenv:Server", "Internal Error")
    assert answer["details"] == [
        {
            "severity": "FATAL",
            "reasonCode": "MSG00003",
            "diagnostic": "Internal Error",
            "authorCode": "http://www.ksz-bcss.fgov.be/",
            "information": [
                (
                    "detail",
                    "Inconsistency in the authorization configuration at CBSS "
                    "(AAAPolicy vs Application)",
                )
            ],
        }
    ]
    assert status(career(callers, "cpas-namur", "65031510159", "2000-01-01"))["code"] == (
        "MSG00000"
    )


# --- integration for the client (R-20, R-40 … R-46) -------------------------------------


def test_msg00012_names_details_ssin_and_cbe_number(as_client: CallerFactory) -> None:
    """R-20: riziv-medical never knew 03050701202 (Ignore mode: no integration at all)."""
    element = career(as_client, "riziv-medical", "03050701202")
    assert status(element) == no_result(
        "MSG00012",
        NOT_INTEGRATED,
        ("details", "The SSIN is not integrated for the given PCSA."),
        ("ssin", "03050701202"),
        ("cbeNumber", "0234567873"),
    )
    assert ssin_element(element) == ("03050701202", {})


def test_msg00012_for_a_client_without_cbe_number(as_client: CallerFactory) -> None:
    """R-20, R-43: famifund-east's file on 70441107119 closed more than 5 years ago."""
    element = career(as_client, "famifund-east", "70441107119", "2010-01-01", "2012-12-31")
    assert status(element) == no_result(
        "MSG00012",
        NOT_INTEGRATED,
        ("details", "The SSIN is not integrated for the given PCSA."),
        ("ssin", "70441107119"),
        ("cbeNumber", None),
    )


@pytest.mark.parametrize(
    ("client", "begin", "end", "code"),
    [
        # FullyIncluded, no extension: integrated 2015-01-01 … 2020-12-31
        ("cpas-namur", "2015-01-01", "2020-12-31", "MSG00000"),
        ("cpas-namur", "2014-12-31", "2020-12-31", "MSG00012"),
        ("cpas-namur", "2015-01-01", "2021-01-01", "MSG00012"),
        ("cpas-namur", "2015-01-01", None, "MSG00012"),  # open end = today
        # FullyIncluded, 90 days before and after: 2015-04-01 … 2020-09-30 widened
        ("pension-office", "2015-01-01", "2020-12-29", "MSG00000"),
        ("pension-office", "2014-12-31", "2020-12-29", "MSG00012"),
        ("pension-office", "2015-01-01", "2020-12-30", "MSG00012"),
        # CurrentDate, 1826 days after: integrated until 2023-06-30, so until 2028-06-29
        ("famifund-east", "2012-01-01", None, "MSG00000"),
        # Ignore, but riziv-medical never knew 68010112321
        ("riziv-medical", "2015-01-01", "2020-12-31", "MSG00012"),
        # not required
        ("onss-inspection", "1956-07-01", None, "MSG00000"),
    ],
)
def test_client_modes_at_their_boundaries(
    as_client: CallerFactory, client: str, begin: str, end: str | None, code: str
) -> None:
    """R-40 … R-45 with NISS 68010112321 (career 2012-01-01 … open at INASTI)."""
    assert status(career(as_client, client, "68010112321", begin, end))["code"] == code


@pytest.mark.parametrize(
    ("begin", "end"),
    [("1999-12-31", "1999-12-31"), ("2006-01-01", None), ("1990-01-01", "2026-11-26")],
)
def test_ignore_mode_allows_every_period(
    as_client: CallerFactory, begin: str, end: str | None
) -> None:
    """R-42: riziv-medical knew 65031510159 in 2000–2005: it may consult any period."""
    assert status(career(as_client, "riziv-medical", "65031510159", begin, end))["code"] == (
        "MSG00000"
    )


@pytest.mark.parametrize(
    ("today", "begin", "end", "code"),
    [
        # 70441107119: famifund-east integrated 2010-01-01 … 2019-06-30, + 1826 days after
        ("2024-06-29T12:00:00+02:00", "2010-01-01", "2012-12-31", "MSG00000"),
        ("2024-06-30T12:00:00+02:00", "2010-01-01", "2012-12-31", "MSG00012"),
        ("2009-12-31T12:00:00+01:00", "2005-01-01", "2009-12-31", "MSG00012"),
        ("2010-01-01T12:00:00+01:00", "2005-01-01", "2010-01-01", "MSG00000"),
    ],
)
def test_current_date_mode_at_its_boundaries(
    gateway_with: GatewayFactory, today: str, begin: str, end: str, code: str
) -> None:
    """R-43, R-45: integrated today (the day of / the day after the widened end, the day
    before / the day of the begin)."""
    callers = gateway_with(clock=today)
    assert status(career(callers, "famifund-east", "70441107119", begin, end))["code"] == code


# --- integration at the supplier (R-21) -------------------------------------------------


def test_msg00021_unknown_at_inasti(as_client: CallerFactory) -> None:
    """R-21: 03050701202 is not known to INASTI under 2 or 102."""
    element = career(as_client, "onss-inspection", "03050701202")
    assert status(element) == {
        "value": "NO_DATA_FOUND",
        "code": "MSG00021",
        "description": "The SSIN is not sufficiently integrated for the provider of the data",
        "information": [],
    }
    assert ssin_element(element) == ("03050701202", {})


@pytest.mark.parametrize(
    ("begin", "end", "code"),
    [
        ("2008-12-31", None, "MSG00000"),  # last day of INASTI's integration
        ("2009-01-01", None, "MSG00021"),  # the day after
        ("1990-01-01", "2005-01-01", "MSG00000"),  # first day
        ("1990-01-01", "2004-12-31", "MSG00021"),  # the day before
    ],
)
def test_supplier_integration_boundaries(
    as_client: CallerFactory, begin: str, end: str | None, code: str
) -> None:
    """R-21: 77070745630 known to INASTI 2005-01-01 … 2008-12-31; one day is enough."""
    assert status(career(as_client, "onss-inspection", "77070745630", begin, end))["code"] == (code)


@pytest.mark.parametrize(
    ("begin", "end"), [(None, None), ("2019-01-01", None), ("2019-03-01", None)]
)
def test_open_consultation_reaches_a_future_activity(
    gateway_with: GatewayFactory, begin: str | None, end: str | None
) -> None:
    """R-21 [decision], R-33: on 2019-03-15, 72060120261's activity is declared to start on
    2019-04-01 (INASTI knows the NISS from then on). A consultation without an end is open for
    INASTI's check too: DATA_FOUND with the future segments, not MSG00021."""
    callers = gateway_with(clock="2019-03-15T10:00:00+01:00")
    element = career(callers, "onss-inspection", "72060120261", begin, end)
    assert status(element)["code"] == "MSG00000"
    begins = [b.text for b in element.iterfind("career/affiliations/affiliation//beginDate")]
    assert begins[0] == "2019-04-01"


def test_closed_consultation_before_the_activity_is_msg00021(
    gateway_with: GatewayFactory,
) -> None:
    """R-21: a consultation that ends before INASTI knows the NISS still gets MSG00021."""
    callers = gateway_with(clock="2019-03-15T10:00:00+01:00")
    element = career(callers, "onss-inspection", "72060120261", "2019-01-01", "2019-03-15")
    assert status(element)["code"] == "MSG00021"


def test_supplier_integration_quality_102_counts(as_client: CallerFactory) -> None:
    """R-21: 85111115024 is known under 102; INASTI then says the file is under
    investigation (SES00006, passed on as-is, R-22)."""
    element = career(as_client, "onss-inspection", "85111115024")
    assert status(element) == no_result("SES00006", "File under investigation.")
    assert ssin_element(element) == ("85111115024", {})


def test_ses00005_fund_timeout(as_client: CallerFactory) -> None:
    """R-22, R-64: INASTI reports that a fund did not answer in time."""
    element = contributions(as_client, "onss-inspection", "61093008964", "2025Q1")
    assert status(element) == no_result(
        "SES00005",
        "Time-out. At least one social security funds did not reply in the given timeframe.",
    )


# --- result (R-25, R-55) ----------------------------------------------------------------


def test_contributions_without_end_quarter_go_to_the_last_known(
    as_client: CallerFactory,
) -> None:
    """R-36: no endQuarter → every quarter from beginQuarter."""
    element = contributions(as_client, "onss-inspection", "65031510159", "2025Q3")
    assert [q.text for q in element.iter("quarter")] == [
        "2025Q3",
        "2025Q4",
        "2026Q1",
        "2026Q2",
        "2026Q3",
    ]


def test_open_career_period_returns_future_segments(as_client: CallerFactory) -> None:
    """R-33: no endDate: a segment starting in the future (2027) is returned too."""
    element = career(as_client, "onss-inspection", "72060120261", "2026-01-01")
    begins = [s.findtext("period/beginDate") for s in element.iter("careerSegment")]
    assert begins == ["2025-01-01", "2027-01-01"]


def test_closed_career_period_leaves_out_what_does_not_overlap(
    as_client: CallerFactory,
) -> None:
    """R-55: only segments with at least one day in the period."""
    element = career(as_client, "onss-inspection", "72060120261", "2024-12-31", "2024-12-31")
    begins = [s.findtext("period/beginDate") for s in element.iter("careerSegment")]
    assert begins == ["2019-04-01"]
    assert element.tag == f"{{{SES}}}consultCareerResponse"


@pytest.mark.parametrize(
    ("client", "ssin", "code", "filtered"),
    [
        ("cpas-namur", "75010199968", "MSG00005", ["occupation", "signatureDate"]),
        ("famifund-east", "70441107119", "MSG00012", ["signatureDate"]),
        ("pension-office", "65031510159", "MSG00012", ["occupation"]),
        ("riziv-medical", "03050701202", "MSG00012", None),
    ],
)
def test_data_filters_whatever_the_status(
    as_client: CallerFactory, client: str, ssin: str, code: str, filtered: list[str] | None
) -> None:
    """R-51: dataFilters lists the client's filters in every consultCareer response (absent
    only for a client without filter)."""
    element = career(as_client, client, ssin)
    assert status(element)["code"] == code
    found = element.find("dataFilters")
    listed = None if found is None else [e.text for e in found.iter("filteredElement")]
    assert listed == filtered


def test_contributions_never_carry_data_filters(as_client: CallerFactory) -> None:
    """R-51: only consultCareer uses dataFilters."""
    element = contributions(as_client, "cpas-namur", "65031510159", "2025Q1")
    assert status(element)["code"] == "MSG00000"
    assert element.find("dataFilters") is None
