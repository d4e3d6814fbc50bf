"""Spyne models of the requests, mirroring `xsd/SelfEmployedTypesV2.xsd` and CommonV3.

Responses are written by `writer.py`, not through spyne models (see `service.py`).

Children are unqualified (`elementFormDefault="unqualified"`, R-08): every field is
customised with `sub_ns=""`. Values copied from the request into the response
(informationCustomer, criteria, R-53) are kept as text so that they come back exactly as
sent; the XSD, not spyne, checks their form (R-10).
"""

from __future__ import annotations

from typing import Any

from spyne import ComplexModel, Unicode

from selfemployed_gateway.namespaces import COMMON, TYPES


def _field(model: Any, **options: Any) -> Any:
    return model.customize(sub_ns="", **options)


def _text(**options: Any) -> Any:
    return _field(Unicode, **options)


# --- CommonV3 ----------------------------------------------------------------------------


class CustomerIdentification(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "OrganizationIdentificationType"
    _type_info = [
        ("cbeNumber", _text()),
        ("sector", _text()),
        ("institution", _text()),
    ]


class InformationCustomer(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "InformationCustomerType"
    _type_info = [
        ("ticket", _text()),
        ("timestampSent", _text()),
        ("customerIdentification", _field(CustomerIdentification)),
    ]


class InformationCBSS(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "InformationCBSSType"
    _type_info = [
        ("ticketCBSS", _text()),
        ("timestampReceive", _text()),
        ("timestampReply", _text()),
    ]


class OpenPeriod(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "OpenPeriodType"
    _type_info = [("beginDate", _text()), ("endDate", _text())]


class OpenQuarterPeriod(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "OpenQuarterPeriodType"
    _type_info = [("beginQuarter", _text()), ("endQuarter", _text())]


# --- SelfEmployed ------------------------------------------------------------------------


class CareerCriteria(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "ConsultCareerCriteriaType"
    _type_info = [("ssin", _text()), ("period", _field(OpenPeriod))]


class ContributionsCriteria(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "ConsultContributionsCriteriaType"
    _type_info = [("ssin", _text()), ("period", _field(OpenQuarterPeriod))]


_BASE_REQUEST = [
    ("informationCustomer", _field(InformationCustomer)),
    ("informationCBSS", _field(InformationCBSS)),
    ("legalContext", _text()),
]


class ConsultCareerRequest(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "ConsultCareerRequestType"
    _type_info = [*_BASE_REQUEST, ("criteria", _field(CareerCriteria))]


class ConsultContributionsRequest(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "ConsultContributionsRequestType"
    _type_info = [*_BASE_REQUEST, ("criteria", _field(ContributionsCriteria))]
