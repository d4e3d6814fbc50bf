"""Conversion between spyne messages and the pipeline's records (R-52 … R-54).

informationCustomer, legalContext and criteria are copied from the request object itself
(R-53): what the client sent comes back unchanged.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from selfemployed_gateway import records
from selfemployed_gateway.records import (
    CareerCriteria,
    ConsultRequest,
    ContributionsCriteria,
    CustomerIdentification,
    DatePeriod,
    Operation,
    Reply,
)
from selfemployed_gateway.soap import models


def to_request(operation: Operation, message: Any) -> ConsultRequest:
    """A schema-valid request message as a record."""
    customer = message.informationCustomer
    identification = customer.customerIdentification
    career = contributions = None
    if operation is Operation.CONSULT_CAREER:
        career = CareerCriteria(
            ssin=message.criteria.ssin, period=_open_period(message.criteria.period)
        )
    else:
        period = message.criteria.period
        contributions = ContributionsCriteria(
            ssin=message.criteria.ssin,
            begin_quarter=period.beginQuarter.strip(),
            end_quarter=period.endQuarter.strip() if period.endQuarter else None,
        )
    return ConsultRequest(
        operation=operation,
        customer=CustomerIdentification(
            cbe_number=identification.cbeNumber,
            sector=_int(identification.sector),
            institution=_int(identification.institution),
        ),
        customer_ticket=customer.ticket,
        legal_context=message.legalContext,
        career=career,
        contributions=contributions,
    )


def wire_date(text: str) -> date:
    """R-37: an xs:date, with or without zone; the zone never shifts the day."""
    return date.fromisoformat(text.strip()[:10])


def _open_period(period: Any) -> DatePeriod | None:
    if period is None:
        return None
    end = wire_date(period.endDate) if period.endDate else None
    return DatePeriod(begin=wire_date(period.beginDate), end=end)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


def to_response(
    operation: Operation, request: Any, reply: Reply, information_cbss: models.InformationCBSS
) -> Any:
    """The response message for `reply`, copying the request's blocks (R-53)."""
    common: dict[str, Any] = {
        "informationCustomer": request.informationCustomer,
        "informationCBSS": information_cbss,
        "legalContext": request.legalContext,
        "criteria": request.criteria,
        "status": _status(reply),
        "ssin": _ssin(reply.ssin),
    }
    if operation is Operation.CONSULT_CAREER:
        return models.ConsultCareerResponse(
            **common,
            dataFilters=(
                models.DataFilters(filteredElement=list(reply.data_filters))
                if reply.data_filters
                else None
            ),
            career=_career(reply.career) if reply.career is not None else None,
        )
    return models.ConsultContributionsResponse(
        **common,
        contributions=(
            [_payment(payment) for payment in reply.payments] if reply.payments else None
        ),
    )


def _status(reply: Reply) -> models.Status:
    return models.Status(
        value=reply.status.value.value,
        code=reply.status.code,
        description=reply.status.description,
        information=[
            models.Information(fieldName=item.field_name, fieldValue=item.field_value)
            for item in reply.information
        ]
        or None,
    )


def _ssin(ssin: records.SsinStatus | None) -> models.Ssin | None:
    if ssin is None:
        return None
    return models.Ssin(
        value=ssin.ssin, canceled=True if ssin.canceled else None, replaces=ssin.replaces
    )


def _coded(value: records.CodedValue | None) -> models.CodedValue | None:
    if value is None:
        return None
    return models.CodedValue(
        code=value.code,
        description=[
            models.LocalizedDescription(value=d.text, language=d.language.value)
            for d in value.descriptions
        ]
        or None,
    )


def _fund(fund: records.Fund) -> models.SocialInsuranceFund:
    return models.SocialInsuranceFund(enterpriseNumber=fund.enterprise_number, code=fund.code)


def _date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _career(career: records.Career) -> models.Career:
    return models.Career(
        nisseReference=career.nisse_reference,
        selfEmployedEnterpriseNumber=career.enterprise_number,
        occupation=_coded(career.occupation),
        affiliations=[
            models.Affiliation(
                socialInsuranceFund=_fund(affiliation.fund),
                signatureDate=_date(affiliation.signature_date),
                careerSegments=[
                    models.CareerSegment(
                        period=models.OpenPeriod(
                            beginDate=_date(segment.period.begin),
                            endDate=_date(segment.period.end),
                        ),
                        selfEmployedQuality=_coded(segment.quality),
                        contribution=_coded(segment.contribution),
                        equality=_coded(segment.equality),
                    )
                    for segment in affiliation.segments
                ],
            )
            for affiliation in career.affiliations
        ],
    )


def _payment(payment: records.ContributionPayment) -> models.ContributionData:
    return models.ContributionData(
        quarter=payment.quarter,
        socialInsuranceFund=_fund(payment.fund),
        contributionSituation=_coded(payment.situation),
        ziv=_coded(payment.ziv),
    )
