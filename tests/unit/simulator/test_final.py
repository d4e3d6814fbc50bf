"""The built-in INASTI simulator: its pure answers (R-55, R-64, behaviours) and its resource."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from selfemployed_gateway.dataset import Dataset, SimulatorBehaviour, load_dataset
from selfemployed_gateway.records import (
    CareerAnswer,
    ContributionsAnswer,
    DatePeriod,
    Operation,
    SupplierOutcome,
)
from selfemployed_gateway.settings import SimulatorSettings
from selfemployed_gateway.simulator.answers import GARBAGE_BODY, SimulatorAnswer
from selfemployed_gateway.simulator.final import (
    answer_career,
    answer_contributions,
    answer_request,
    in_unavailable_window,
)
from selfemployed_gateway.simulator.resource import simulator_clock
from selfemployed_gateway.suppliers.final.protocol import (
    SCHEMA,
    career_request,
    contributions_request,
    read_career_response,
    read_contributions_response,
)
from selfemployed_gateway.suppliers.soap11 import (
    ProtocolError,
    body_payload,
    envelope,
    is_fault,
    parse_document,
)
from tests.support.paths import PROJECT

ROOT = PROJECT
BRUSSELS = ZoneInfo("Europe/Brussels")
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=BRUSSELS)
WHOLE_CAREER = DatePeriod(begin=date(1956, 7, 1))

# People of the reference dataset.
MULTI = (
    "65031510159"  # fund 010 1990-01-01..1999-12-31, 2000-01-01..2000-06-30; 002 from 2000-07-01
)
FUTURE = "72060120261"  # a segment that starts on 2027-01-01
OLD_FUND = "50050500557"  # fund 014 has no enterprise number
CAREER_NO_CONTRIBUTIONS = "58112403357"
NOBODY = "75010199968"
FUND_012 = "61093008964"  # contributions with fund 012 (19:00-06:00), and behaviour fund_timeout


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_dataset(ROOT / "config" / "reference-dataset.json")


def valid_payload(answer: SimulatorAnswer) -> etree._Element:
    """The answer's Body element, asserting that it is valid against the protocol's XSD."""
    payload = body_payload(parse_document(answer.body))
    assert SCHEMA.first_error(payload) is None
    return payload


def career(dataset: Dataset, ssin: str, begin: date, end: date | None = None) -> CareerAnswer:
    answer = answer_career(dataset, ssin, DatePeriod(begin=begin, end=end), NOON)
    assert answer.status == 200
    return read_career_response(valid_payload(answer))


def contributions(
    dataset: Dataset, ssin: str, begin: str, end: str | None, now: datetime = NOON
) -> ContributionsAnswer:
    answer = answer_contributions(dataset, ssin, begin, end, now)
    assert answer.status == 200
    return read_contributions_response(valid_payload(answer))


def segment_begins(answer: CareerAnswer) -> list[list[date]]:
    assert answer.career is not None
    return [[s.period.begin for s in a.segments] for a in answer.career.affiliations]


# --- consultCareer: R-55 -----------------------------------------------------------------


def test_period_ending_the_day_before_the_first_segment_finds_nothing(dataset: Dataset) -> None:
    answer = career(dataset, MULTI, date(1980, 1, 1), date(1989, 12, 31))
    assert answer == CareerAnswer(outcome=SupplierOutcome.NO_DATA_FOR_PERIOD)


def test_period_ending_the_day_a_segment_begins_finds_it(dataset: Dataset) -> None:
    answer = career(dataset, MULTI, date(1980, 1, 1), date(1990, 1, 1))
    assert segment_begins(answer) == [[date(1990, 1, 1)]]


def test_one_day_period_on_the_last_day_of_a_segment(dataset: Dataset) -> None:
    answer = career(dataset, MULTI, date(2000, 6, 30), date(2000, 6, 30))
    assert segment_begins(answer) == [[date(2000, 1, 1)]]


def test_period_beginning_the_day_after_a_segment_omits_it_and_its_affiliation(
    dataset: Dataset,
) -> None:
    answer = career(dataset, MULTI, date(2000, 7, 1))
    assert answer.career is not None
    assert [a.fund.code for a in answer.career.affiliations] == ["002"]
    assert segment_begins(answer) == [[date(2000, 7, 1)]]


def test_period_spanning_the_boundaries_finds_every_segment(dataset: Dataset) -> None:
    answer = career(dataset, MULTI, date(1999, 12, 31), date(2000, 7, 1))
    assert segment_begins(answer) == [[date(1990, 1, 1), date(2000, 1, 1)], [date(2000, 7, 1)]]


def test_open_period_includes_segments_starting_in_the_future(dataset: Dataset) -> None:
    answer = career(dataset, FUTURE, date(2026, 1, 1))
    assert segment_begins(answer) == [[date(2025, 1, 1), date(2027, 1, 1)]]


def test_career_carries_descriptions_and_fund_numbers_from_the_dataset(dataset: Dataset) -> None:
    answer = career(dataset, MULTI, date(2000, 1, 1), date(2000, 1, 1))
    assert answer.outcome is SupplierOutcome.FOUND and answer.career is not None
    affiliation = answer.career.affiliations[0]
    assert affiliation.fund.enterprise_number == "0409085424"
    quality = affiliation.segments[0].quality
    assert [(d.language.value, d.text) for d in quality.descriptions] == [
        ("FR", "Travailleur indépendant"),
        ("NL", "Zelfstandige"),
        ("DE", "Selbständiger"),
    ]
    assert affiliation.segments[0].equality is not None
    assert affiliation.segments[0].equality.code == "130"


def test_fund_without_enterprise_number_has_none(dataset: Dataset) -> None:
    answer = career(dataset, OLD_FUND, date(1980, 1, 1), date(1980, 1, 1))
    assert answer.career is not None
    assert answer.career.affiliations[0].fund.code == "014"
    assert answer.career.affiliations[0].fund.enterprise_number is None


@pytest.mark.parametrize("ssin", [NOBODY, "03050701202"])
def test_unknown_career_is_no_data_for_person(dataset: Dataset, ssin: str) -> None:
    assert career(dataset, ssin, date(1956, 7, 1)).outcome is SupplierOutcome.NO_DATA_FOR_PERSON


# --- consultContributions ----------------------------------------------------------------


def test_contributions_quarters_are_inclusive(dataset: Dataset) -> None:
    answer = contributions(dataset, MULTI, "2015Q2", "2015Q4")
    assert answer.outcome is SupplierOutcome.FOUND
    assert [p.quarter for p in answer.payments] == ["2015Q2", "2015Q3", "2015Q4"]
    assert answer.payments[0].fund.enterprise_number == "0409081464"
    assert answer.payments[0].ziv is not None and answer.payments[0].ziv.code == "1"


def test_contributions_without_end_go_to_the_last_known_quarter(dataset: Dataset) -> None:
    answer = contributions(dataset, MULTI, "2026Q1", None)
    assert [p.quarter for p in answer.payments] == ["2026Q1", "2026Q2", "2026Q3"]


def test_contributions_of_a_known_person_outside_the_period(dataset: Dataset) -> None:
    answer = contributions(dataset, MULTI, "2010Q1", "2014Q4")
    assert answer == ContributionsAnswer(outcome=SupplierOutcome.NO_DATA_FOR_PERIOD)


@pytest.mark.parametrize("ssin", [NOBODY, CAREER_NO_CONTRIBUTIONS])
def test_contributions_of_a_person_without_any(dataset: Dataset, ssin: str) -> None:
    answer = contributions(dataset, ssin, "2015Q1", None)
    assert answer == ContributionsAnswer(outcome=SupplierOutcome.NO_DATA_FOR_PERSON)


# --- simulator_behaviours -----------------------------------------------------------------


def ask(dataset: Dataset, ssin: str, operation: Operation) -> SimulatorAnswer:
    if operation is Operation.CONSULT_CAREER:
        return answer_career(dataset, ssin, WHOLE_CAREER, NOON)
    return answer_contributions(dataset, ssin, "2015Q1", None, NOON)


def result_code(answer: SimulatorAnswer) -> str:
    return str(valid_payload(answer).findtext("result/code"))


def behaviour_cases(path: Path) -> list[tuple[SimulatorBehaviour, Operation]]:
    dataset = load_dataset(path)
    return [
        (entry, operation)
        for entry in dataset.simulator_behaviours
        for operation in Operation
        if entry.applies_to(operation)
    ]


BEHAVIOURS = behaviour_cases(ROOT / "config" / "reference-dataset.json")


def test_every_behaviour_kind_is_covered() -> None:
    kinds = {entry.behaviour for entry, _ in BEHAVIOURS}
    assert kinds == {"fund_timeout", "under_investigation", "soap_fault", "garbage", "slow"}


@pytest.mark.parametrize(
    ("entry", "operation"),
    BEHAVIOURS,
    ids=[f"{entry.behaviour}-{operation.value}" for entry, operation in BEHAVIOURS],
)
def test_behaviour(dataset: Dataset, entry: SimulatorBehaviour, operation: Operation) -> None:
    answer = ask(dataset, entry.ssin, operation)
    if entry.behaviour == "fund_timeout":
        assert (answer.status, result_code(answer)) == (200, "SES00005")
    elif entry.behaviour == "under_investigation":
        assert (answer.status, result_code(answer)) == (200, "SES00006")
    elif entry.behaviour == "soap_fault":
        assert answer.status == 500
        fault = body_payload(parse_document(answer.body))
        assert is_fault(fault) and fault.findtext("faultcode") == "soapenv:Server"
    elif entry.behaviour == "garbage":
        assert (answer.status, answer.body) == (200, GARBAGE_BODY)
        with pytest.raises(ProtocolError):
            parse_document(answer.body)
    else:
        assert entry.behaviour == "slow"
        assert answer.delay_seconds == entry.delay_seconds
        assert answer.status == 200 and answer.delay_seconds > 0
        valid_payload(answer)


def test_behaviour_applies_to_its_operation_only(dataset: Dataset) -> None:
    # FUND_012's fund_timeout is for consultContributions: its career answers normally.
    assert result_code(ask(dataset, FUND_012, Operation.CONSULT_CAREER)) == "OK"


# --- fund_availability (R-64) --------------------------------------------------------------


@pytest.fixture(scope="module")
def without_behaviours(dataset: Dataset) -> Dataset:
    """The dataset without misbehaviours, so that only the fund's window decides."""
    return dataset.model_copy(update={"simulator_behaviours": []})


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        (18, 59, SupplierOutcome.FOUND),
        (19, 0, SupplierOutcome.FUND_TIMEOUT),
        (23, 59, SupplierOutcome.FUND_TIMEOUT),
        (0, 0, SupplierOutcome.FUND_TIMEOUT),
        (5, 59, SupplierOutcome.FUND_TIMEOUT),
        (6, 0, SupplierOutcome.FOUND),
    ],
)
def test_fund_window_in_brussels_time(
    without_behaviours: Dataset, hour: int, minute: int, expected: SupplierOutcome
) -> None:
    now = datetime(2026, 11, 26, hour, minute, tzinfo=BRUSSELS)
    answer = contributions(without_behaviours, FUND_012, "2020Q1", "2020Q4", now)
    assert answer.outcome is expected
    assert bool(answer.payments) == (expected is SupplierOutcome.FOUND)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # Winter: Brussels is UTC+1; summer: UTC+2.
        (datetime(2026, 1, 15, 17, 59, tzinfo=UTC), SupplierOutcome.FOUND),
        (datetime(2026, 1, 15, 18, 0, tzinfo=UTC), SupplierOutcome.FUND_TIMEOUT),
        (datetime(2026, 7, 15, 16, 59, tzinfo=UTC), SupplierOutcome.FOUND),
        (datetime(2026, 7, 15, 17, 0, tzinfo=UTC), SupplierOutcome.FUND_TIMEOUT),
        (datetime(2026, 7, 15, 3, 59, tzinfo=UTC), SupplierOutcome.FUND_TIMEOUT),
        (datetime(2026, 7, 15, 4, 0, tzinfo=UTC), SupplierOutcome.FOUND),
    ],
)
def test_fund_window_follows_daylight_saving(
    without_behaviours: Dataset, utc: datetime, expected: SupplierOutcome
) -> None:
    assert contributions(without_behaviours, FUND_012, "2020Q1", None, utc).outcome is expected


def test_fund_window_only_concerns_that_fund(dataset: Dataset) -> None:
    night = datetime(2026, 11, 26, 23, 0, tzinfo=BRUSSELS)
    assert contributions(dataset, MULTI, "2020Q1", "2020Q4", night).outcome is SupplierOutcome.FOUND


def test_fund_window_only_concerns_the_returned_payments(without_behaviours: Dataset) -> None:
    night = datetime(2026, 11, 26, 23, 0, tzinfo=BRUSSELS)
    answer = contributions(without_behaviours, FUND_012, "2010Q1", "2014Q4", night)
    assert answer.outcome is SupplierOutcome.NO_DATA_FOR_PERIOD


def test_fund_window_does_not_concern_careers(without_behaviours: Dataset) -> None:
    night = datetime(2026, 11, 26, 23, 0, tzinfo=BRUSSELS)
    answer = answer_career(without_behaviours, FUND_012, WHOLE_CAREER, night)
    assert result_code(answer) == "OK"


def test_naive_clock_is_wall_clock_time_of_the_fund_zone(dataset: Dataset) -> None:
    entry = dataset.fund_availability[0]
    assert in_unavailable_window(entry, datetime(2026, 11, 26, 19, 0))
    assert not in_unavailable_window(entry, datetime(2026, 11, 26, 6, 0))


def test_clock_from_settings(tmp_path: Path) -> None:
    fixed = SimulatorSettings(dataset=tmp_path / "d.json", clock="2026-11-26T19:00:00+01:00")
    assert simulator_clock(fixed)() == datetime(2026, 11, 26, 19, 0, tzinfo=BRUSSELS)
    real = simulator_clock(SimulatorSettings(dataset=tmp_path / "d.json"))()
    assert real.tzinfo is not None and abs((datetime.now(UTC) - real).total_seconds()) < 5


# --- every answer is valid ----------------------------------------------------------------


def test_every_answer_of_the_dataset_is_valid_against_the_xsd(dataset: Dataset) -> None:
    people = {entry.ssin for entry in dataset.careers} | {e.ssin for e in dataset.contributions}
    for ssin in sorted(people):
        for operation in Operation:
            answer = ask(dataset, ssin, operation)
            if answer.body != GARBAGE_BODY and answer.status == 200:
                valid_payload(answer)


# --- raw requests -------------------------------------------------------------------------


def test_request_bytes_are_answered_like_the_pure_function(dataset: Dataset) -> None:
    period = DatePeriod(begin=date(2000, 1, 1), end=date(2000, 12, 31))
    body = envelope(career_request(MULTI, period))
    assert answer_request(dataset, body, NOON) == answer_career(dataset, MULTI, period, NOON)
    body = envelope(contributions_request(MULTI, "2015Q1", "2015Q2"))
    expected = answer_contributions(dataset, MULTI, "2015Q1", "2015Q2", NOON)
    assert answer_request(dataset, body, NOON) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<foo/>",
        envelope(contributions_request("123", "2015Q1", None)),  # not a NISS
        envelope(etree.Element("{urn:be:fgov:inasti:selfemployed:v1}consultCareerResponse")),
        b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',
    ],
)
def test_unreadable_request_is_a_client_fault(dataset: Dataset, body: bytes) -> None:
    answer = answer_request(dataset, body, NOON)
    assert answer.status == 500
    fault = body_payload(parse_document(answer.body))
    assert fault.findtext("faultcode") == "soapenv:Client"
