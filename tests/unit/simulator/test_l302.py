"""The simulator's L302 answers (simulator/l302.py): lines of the period, month dates."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.records import (
    DatePeriod,
)
from selfemployed_gateway.simulator.answers import GARBAGE_BODY, SimulatorAnswer
from selfemployed_gateway.simulator.l302 import answer_l302, answer_l302_career
from selfemployed_gateway.suppliers.final.protocol import career_request
from selfemployed_gateway.suppliers.l302.mapping import (
    L302Mapping,
)
from selfemployed_gateway.suppliers.l302.protocol import (
    SCHEMA,
    Attestation,
    CareerLine,
    Refusal,
    l302_request,
    l302_response,
    read_l302_response,
)
from selfemployed_gateway.suppliers.soap11 import (
    body_payload,
    envelope,
    is_fault,
    parse_document,
)
from tests.support.aio import run
from tests.support.l302 import (
    EARLY,
    GARBAGE,
    INVESTIGATED,
    MAPPING,
    MULTI,
    NOBODY,
    NOON,
    SLOW,
    SOAP_FAULT,
    WHOLE_CAREER,
    YEAR_2000,
    SupplierFactory,
    simulator_handler,
)
from tests.support.mock_supplier import failure_of

# --- the simulator ------------------------------------------------------------------------


def valid_payload(answer: SimulatorAnswer) -> etree._Element:
    payload = body_payload(parse_document(answer.body))
    assert SCHEMA.first_error(payload) is None, SCHEMA.first_error(payload)
    return payload


PERIODS = [
    WHOLE_CAREER,
    YEAR_2000,
    DatePeriod(begin=date(2026, 1, 1)),
    DatePeriod(begin=date(1960, 1, 1), end=date(1960, 12, 31)),
]


def test_every_answer_of_the_dataset_is_valid_against_the_xsd(dataset: Dataset) -> None:
    for entry in dataset.careers:
        for period in PERIODS:
            answer = answer_l302_career(dataset, MAPPING, entry.ssin, period, NOON)
            if answer.body != GARBAGE_BODY and answer.status == 200:
                valid_payload(answer)


def test_simulator_answers_lines_of_the_period_with_month_dates(dataset: Dataset) -> None:
    answer = answer_l302_career(dataset, MAPPING, MULTI, YEAR_2000, NOON)
    assert read_l302_response(valid_payload(answer)) == Attestation(
        attestation_id="L3020000000101",
        enterprise_number="0567890161",
        lines=(
            CareerLine("010", date(2000, 1, 1), date(2000, 6, 30), "A", "30"),
            CareerLine("002", date(2000, 7, 1), None, "D"),
        ),
    )
    assert b"<BeginDate>2000-01</BeginDate><EndDate>2000-06</EndDate>" in answer.body


@pytest.mark.parametrize(
    ("ssin", "period", "expected"),
    [
        (NOBODY, WHOLE_CAREER, Refusal("NOT_FOUND", "Person unknown in the RGTI repertory")),
        (INVESTIGATED, WHOLE_CAREER, Refusal("UNDER_INVESTIGATION", "File under investigation.")),
        (EARLY, YEAR_2000, Attestation("L3020000000707", None, ())),
    ],
)
def test_simulator_outcomes(
    dataset: Dataset, ssin: str, period: DatePeriod, expected: Attestation | Refusal
) -> None:
    answer = answer_l302_career(dataset, MAPPING, ssin, period, NOON)
    assert answer.status == 200
    assert read_l302_response(valid_payload(answer)) == expected


def test_simulator_misbehaviours(dataset: Dataset) -> None:
    fault = answer_l302_career(dataset, MAPPING, SOAP_FAULT, WHOLE_CAREER, NOON)
    assert fault.status == 500 and is_fault(body_payload(parse_document(fault.body)))
    garbage = answer_l302_career(dataset, MAPPING, GARBAGE, WHOLE_CAREER, NOON)
    assert (garbage.status, garbage.body) == (200, GARBAGE_BODY)
    slow = answer_l302_career(dataset, MAPPING, SLOW, WHOLE_CAREER, NOON)
    assert slow.delay_seconds == 30 and slow.status == 200
    valid_payload(slow)


@pytest.mark.parametrize(
    ("ssin", "details"),
    [
        (SOAP_FAULT, codes.SUPPLIER_L302_SOAP_FAULT),
        (GARBAGE, codes.SUPPLIER_UNEXPECTED_RESPONSE),
    ],
)
def test_misbehaving_simulator_through_the_adapter(
    dataset: Dataset, supplier_with: SupplierFactory, ssin: str, details: str
) -> None:
    supplier = supplier_with(simulator_handler(dataset))
    assert failure_of(lambda: run(supplier.consult_career(ssin, YEAR_2000))).details == details


def test_simulator_without_a_reverse_code_is_a_server_fault(dataset: Dataset) -> None:
    partial = L302Mapping.model_validate(
        {"categories": {"D": {"quality": "100", "contribution": "104"}}}
    )
    answer = answer_l302_career(dataset, partial, MULTI, WHOLE_CAREER, NOON)
    assert answer.status == 500
    assert "101" in str(body_payload(parse_document(answer.body)).findtext("faultstring"))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        envelope(career_request(MULTI, YEAR_2000)),  # the final-phase protocol
        envelope(l302_response(Refusal("NOT_FOUND"))),  # an answer, not a request
        envelope(l302_request("123", YEAR_2000)),  # not a NISS
    ],
)
def test_unreadable_l302_request_is_a_client_fault(dataset: Dataset, body: bytes) -> None:
    answer = answer_l302(dataset, MAPPING, body, NOON)
    assert answer.status == 500
    assert body_payload(parse_document(answer.body)).findtext("faultcode") == "soapenv:Client"
