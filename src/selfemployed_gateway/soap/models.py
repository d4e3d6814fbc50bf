"""Spyne models mirroring `xsd/SelfEmployedTypesV2.xsd` and the CommonV3 types it uses.

Children are unqualified (`elementFormDefault="unqualified"`, R-08): every field is
customised with `sub_ns=""`. Values copied from the request into the response
(informationCustomer, criteria, R-53) are kept as text so that they come back exactly as
sent; the XSD, not spyne, checks their form (R-10).
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Boolean, ComplexModel, Unicode, XmlAttribute, XmlData

from selfemployed_gateway.soap.namespaces import COMMON, TYPES


class _TextData(XmlData):
    """XmlData that writes text: spyne 2.14 hands lxml UTF-8 bytes, which lxml refuses
    for anything but ASCII ("Travailleur indépendant")."""

    @classmethod
    def marshall(cls, prot: Any, name: str, value: Any, parent_elt: Any) -> None:
        if value is None:
            return
        text = prot.to_unicode(cls.type, value)
        if len(parent_elt) == 0:
            parent_elt.text = text
        else:
            parent_elt[-1].tail = text


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


class Information(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "InformationType"
    _type_info = [("fieldName", _text()), ("fieldValue", _text())]


class Status(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "StatusType"
    _type_info = [
        ("value", _text()),
        ("code", _text()),
        ("description", _text()),
        ("information", _field(Information, max_occurs=15)),
    ]


class Ssin(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "SsinWithCanceledAndReplacesStatusType"
    _type_info = [
        ("value", _TextData(Unicode)),
        ("canceled", XmlAttribute(Boolean)),
        ("replaces", XmlAttribute(Unicode)),
    ]


class DataFilters(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "DataFiltersType"
    _type_info = [("filteredElement", _text(max_occurs="unbounded"))]


class OpenPeriod(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "OpenPeriodType"
    _type_info = [("beginDate", _text()), ("endDate", _text())]


class OpenQuarterPeriod(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "OpenQuarterPeriodType"
    _type_info = [("beginQuarter", _text()), ("endQuarter", _text())]


class LocalizedDescription(ComplexModel):
    __namespace__ = COMMON
    __type_name__ = "LocalizedDescriptionType"
    _type_info = [("value", _TextData(Unicode)), ("language", XmlAttribute(Unicode))]


# --- SelfEmployed ------------------------------------------------------------------------


class CodedValue(ComplexModel):
    """selfEmployedQuality, contribution, equality, occupation, contributionSituation, ziv."""

    __namespace__ = TYPES
    __type_name__ = "CodedValueType"
    _type_info = [
        ("code", _text()),
        ("description", _field(LocalizedDescription, max_occurs=3)),
    ]


class SocialInsuranceFund(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "SocialInsuranceFundType"
    _type_info = [("enterpriseNumber", _text()), ("code", _text())]


class CareerSegment(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "CareerSegmentType"
    _type_info = [
        ("period", _field(OpenPeriod)),
        ("selfEmployedQuality", _field(CodedValue)),
        ("contribution", _field(CodedValue)),
        ("equality", _field(CodedValue)),
    ]


class Affiliation(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "AffiliationType"
    _type_info = [
        ("socialInsuranceFund", _field(SocialInsuranceFund)),
        ("signatureDate", _text()),
        ("careerSegments", _field(Array(_field(CareerSegment), member_name="careerSegment"))),
    ]


class Career(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "CareerType"
    _type_info = [
        ("nisseReference", _text()),
        ("selfEmployedEnterpriseNumber", _text()),
        ("occupation", _field(CodedValue)),
        ("affiliations", _field(Array(_field(Affiliation), member_name="affiliation"))),
    ]


class ContributionData(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "ContributionDataType"
    _type_info = [
        ("quarter", _text()),
        ("socialInsuranceFund", _field(SocialInsuranceFund)),
        ("contributionSituation", _field(CodedValue)),
        ("ziv", _field(CodedValue)),
    ]


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


class ConsultCareerResponse(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "ConsultCareerResponseType"
    _type_info = [
        *_BASE_REQUEST,
        ("criteria", _field(CareerCriteria)),
        ("status", _field(Status)),
        ("ssin", _field(Ssin)),
        ("dataFilters", _field(DataFilters)),
        ("career", _field(Career)),
    ]


class ConsultContributionsRequest(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "ConsultContributionsRequestType"
    _type_info = [*_BASE_REQUEST, ("criteria", _field(ContributionsCriteria))]


class ConsultContributionsResponse(ComplexModel):
    __namespace__ = TYPES
    __type_name__ = "ConsultContributionsResponseType"
    _type_info = [
        *_BASE_REQUEST,
        ("criteria", _field(ContributionsCriteria)),
        ("status", _field(Status)),
        ("ssin", _field(Ssin)),
        ("contributions", _field(Array(_field(ContributionData), member_name="contribution"))),
    ]
