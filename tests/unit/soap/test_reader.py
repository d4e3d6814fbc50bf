"""Spyne as a reader (soap/reader.py): a schema-valid envelope in, the pipeline's record out."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from selfemployed_gateway.records import (
    CareerRequest,
    ContributionsRequest,
    DatePeriod,
    Operation,
    Organisation,
)
from selfemployed_gateway.soap.envelope import open_envelope
from selfemployed_gateway.soap.reader import RequestReader, wire_date
from selfemployed_gateway.xmlsafe import hardened_parser
from tests.support.soap import career_request, contributions_request, customer

READER = RequestReader()


def read(text: str, operation: Operation) -> CareerRequest | ContributionsRequest:
    request = open_envelope(etree.fromstring(text.encode(), hardened_parser()))
    return READER.read(request.payload, operation)


def test_a_career_request_becomes_its_record() -> None:
    envelope = career_request(
        customer(cbe="0212345668", ticket="t-9"),
        "PCSA:SOCIAL_INQUIRY",
        "65031510159",
        "2000-01-01",
        "2010-12-31",
    )
    assert read(envelope, Operation.CONSULT_CAREER) == CareerRequest(
        customer=Organisation(cbe_number="0212345668"),
        customer_ticket="t-9",
        legal_context="PCSA:SOCIAL_INQUIRY",
        ssin="65031510159",
        period=DatePeriod(begin=date(2000, 1, 1), end=date(2010, 12, 31)),
    )


def test_a_career_request_without_period_or_end() -> None:
    whole = read(
        career_request(customer(sector=21, institution=0), "X", "65031510159"),
        Operation.CONSULT_CAREER,
    )
    assert isinstance(whole, CareerRequest)
    assert whole.period is None
    assert whole.customer == Organisation(sector=21, institution=0)
    open_end = read(
        career_request(customer(cbe="0212345668"), "X", "65031510159", "2000-01-01"),
        Operation.CONSULT_CAREER,
    )
    assert isinstance(open_end, CareerRequest)
    assert open_end.period == DatePeriod(begin=date(2000, 1, 1))


def test_a_contributions_request_keeps_its_quarters_collapsed() -> None:
    """YearQuarterType collapses white space (R-10): the record holds the collapsed value."""
    envelope = contributions_request(
        customer(cbe="0212345668"), "X", "65031510159", " 2024Q1 ", "2024Q4"
    )
    assert read(envelope, Operation.CONSULT_CONTRIBUTIONS) == ContributionsRequest(
        customer=Organisation(cbe_number="0212345668"),
        customer_ticket="t-1",
        legal_context="X",
        ssin="65031510159",
        begin_quarter="2024Q1",
        end_quarter="2024Q4",
    )


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2000-01-31", date(2000, 1, 31)),
        ("2000-01-31+14:00", date(2000, 1, 31)),  # the zone never shifts the day
        ("2000-01-31Z", date(2000, 1, 31)),
        ("12000-01-01", date.max),
        ("-0001-01-01", date.min),
    ],
)
def test_wire_dates(text: str, day: date) -> None:
    assert wire_date(text) == day


def test_spyne_attributes_are_remembered_as_spyne_computes_them() -> None:
    """service._Soap11 keeps spyne's class attributes in a plain dict (issue #17): for every
    model the reader meets, the same attributes as spyne's own Soap11, computed once."""
    from spyne.protocol.soap import Soap11

    from selfemployed_gateway.soap import models
    from selfemployed_gateway.soap.service import build_application

    protocol = build_application().in_protocol
    classes = [
        value
        for value in vars(models).values()
        if isinstance(value, type) and hasattr(value, "Attributes")
    ]
    assert len(classes) >= 5
    plain = Soap11()
    for cls in classes:
        remembered = protocol.get_cls_attrs(cls)
        assert protocol.get_cls_attrs(cls) is remembered
        assert repr(remembered) == repr(plain.get_cls_attrs(cls)), cls.__name__
