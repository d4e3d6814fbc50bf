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


def _deserialization_instance(cls: Any, ctx: Any) -> Any:
    """The empty instance spyne fills while reading (`get_deserialization_instance`): every
    member None, as `ComplexModelBase.__init__` leaves a member without a default (none of
    these has one), without its walk of each member's attributes, which was a third of
    reading a request (issue #17). A customised class makes its original's, as spyne does."""
    model = cls.__orig__ if cls.__orig__ is not None else cls
    instance = model.__new__(model)
    instance.__dict__.update(_unset_members(model))
    return instance


_UNSET: dict[type, dict[str, None]] = {}


def _unset_members(model: Any) -> dict[str, None]:
    members = _UNSET.get(model)
    if members is None:
        members = _UNSET[model] = dict.fromkeys(model.get_flat_type_info(model), None)
    return members


#: The models spyne reads requests into; `test_models` keeps them equal to the module's.
READ_MODELS = (
    CustomerIdentification,
    InformationCustomer,
    InformationCBSS,
    OpenPeriod,
    OpenQuarterPeriod,
    CareerCriteria,
    ContributionsCriteria,
    ConsultCareerRequest,
    ConsultContributionsRequest,
)
for _model in READ_MODELS:
    _model.get_deserialization_instance = classmethod(_deserialization_instance)
