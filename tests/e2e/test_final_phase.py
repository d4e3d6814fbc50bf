"""End-to-end: INASTI's answers and failures, final phase.

R-22 (MSG00002 details, SES00005/SES00006 passed on), R-64 (fund night window), R-65 (time
budget: answered within budget + 0.5 s), R-66 (a bad answer is never DATA_FOUND).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import (
    DATASET,
    CallerFactory,
    GatewayFactory,
    SimulatorFactory,
)
from tests.support.ports import free_port
from tests.support.soap import (
    career_request,
    contributions_request,
    customer,
    fault,
    payload,
    status,
)

ONSS = customer(sector=21, institution=0)
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
BUDGET = 2.0  # supplier.timeout_seconds of the test gateways


def supplier_fault(response: httpx.Response) -> list[tuple[str, str | None]]:
    """The MSG00002 fault's informations; asserts the fault's fixed parts (§8)."""
    assert response.status_code == 500
    answer = fault(response.content)
    assert answer["faultcode"] == "soapenv:Server"
    assert answer["faultstring"] == "Error in communication with the destination/supplier"
    (detail,) = answer["details"]  # type: ignore[misc]
    assert (detail["reasonCode"], detail["severity"]) == ("MSG00002", "FATAL")
    assert answer["informationCustomer"] is True
    return detail["information"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("ssin", "details"),
    [
        ("93030322213", "Unexpected return code from supplier"),  # soap_fault
        ("47061501777", "Unexpected response from supplier"),  # garbage (HTTP 200, not XML)
    ],
)
def test_unusable_supplier_answers_are_msg00002(
    as_client: CallerFactory, ssin: str, details: str
) -> None:
    """R-22, R-66: a SOAP fault or a body that is not XML is never DATA_FOUND."""
    for request in (
        career_request(ONSS, CONTEXT, ssin),
        contributions_request(ONSS, CONTEXT, ssin, "2025Q1"),
    ):
        response = as_client("onss-inspection").post(request)
        assert supplier_fault(response) == [("details", details)]


def test_slow_supplier_is_cut_at_the_time_budget(as_client: CallerFactory) -> None:
    """R-22 [decision], R-65: 64082006457 answers after 30 s; the gateway answers MSG00002
    'No answer from supplier within the time budget' within budget + 0.5 s."""
    started = time.monotonic()
    response = as_client("onss-inspection").post(career_request(ONSS, CONTEXT, "64082006457"))
    elapsed = time.monotonic() - started
    assert supplier_fault(response) == [
        ("details", "No answer from supplier within the time budget")
    ]
    assert BUDGET - 0.1 <= elapsed <= BUDGET + 0.5


def test_inasti_statuses_pass_through(as_client: CallerFactory) -> None:
    """R-22: SES00005 (fund time-out) and SES00006 (under investigation), NO_RESULT."""
    timeout = payload(
        as_client("onss-inspection")
        .post(contributions_request(ONSS, CONTEXT, "61093008964", "2025Q1"))
        .content
    )
    investigation = payload(
        as_client("onss-inspection").post(career_request(ONSS, CONTEXT, "85111115024")).content
    )
    assert (status(timeout)["value"], status(timeout)["code"]) == ("NO_RESULT", "SES00005")
    assert (status(investigation)["value"], status(investigation)["code"]) == (
        "NO_RESULT",
        "SES00006",
    )


def test_supplier_down_is_msg00002_fast_and_not_ready(gateway_with: GatewayFactory) -> None:
    """R-22: nothing listens at the supplier's port: MSG00002 at once; /readyz says so."""
    url = f"http://127.0.0.1:{free_port()}/inasti/SelfEmployedService"
    server = gateway_with.server(supplier_url=url)
    callers = gateway_with(supplier_url=url)
    started = time.monotonic()
    response = callers("onss-inspection").post(career_request(ONSS, CONTEXT, "65031510159"))
    assert time.monotonic() - started < 1.0
    assert supplier_fault(response) == [("details", "Unexpected return code from supplier")]
    ready = httpx.get(server.urls["admin"] + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["supplier"] == "unreachable"
    assert httpx.get(server.urls["admin"] + "/healthz").status_code == 200


@pytest.fixture(scope="module")
def dataset_without_behaviours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The only person paid through fund 012 (61093008964) also has a permanent fund
    time-out; without the behaviours, what remains is the fund's night window."""
    raw = json.loads(DATASET.read_text(encoding="utf-8"))
    raw["simulator_behaviours"] = []
    path = tmp_path_factory.mktemp("night") / "dataset.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("brussels_time", "code"),
    [
        ("2026-11-25T18:59:00+01:00", "MSG00000"),
        ("2026-11-25T19:00:00+01:00", "SES00005"),
        ("2026-11-26T05:59:00+01:00", "SES00005"),
        ("2026-11-26T06:00:00+01:00", "MSG00000"),
    ],
)
def test_fund_night_window(
    simulator_with: SimulatorFactory,
    gateway_with: GatewayFactory,
    dataset_without_behaviours: Path,
    brussels_time: str,
    code: str,
) -> None:
    """R-64: fund 012 does not answer contribution requests between 19:00 and 06:00."""
    simulator = simulator_with(clock=brussels_time, dataset=dataset_without_behaviours)
    callers = gateway_with(supplier_url=simulator.urls["simulator"])
    element = payload(
        callers("onss-inspection")
        .post(contributions_request(ONSS, CONTEXT, "61093008964", "2025Q1", "2025Q2"))
        .content
    )
    assert status(element)["code"] == code
    if code == "MSG00000":
        assert {
            f.text for f in element.iter("code") if f.getparent().tag == "socialInsuranceFund"
        } == {"012"}
