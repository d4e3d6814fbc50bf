"""R-11 … R-13: client identification and authorisation (stages/authorisation.py)."""

from __future__ import annotations

import pytest

from selfemployed_gateway.annex import Annex
from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.records import (
    CareerRequest,
    ConsultRequest,
    ContributionsRequest,
    GatewayFault,
    Operation,
    Organisation,
)
from selfemployed_gateway.stages.authorisation import (
    authorise_operation,
    authorise_service,
    identify_client,
)
from tests.unit.conftest import certificate


def request(
    operation: Operation,
    legal_context: str,
    cbe: str | None = None,
    sector: int | None = None,
    institution: int | None = None,
) -> ConsultRequest:
    customer = Organisation(cbe_number=cbe, sector=sector, institution=institution)
    if operation is Operation.CONSULT_CAREER:
        return CareerRequest(customer=customer, legal_context=legal_context, ssin="65031510159")
    return ContributionsRequest(
        customer=customer,
        legal_context=legal_context,
        ssin="65031510159",
        begin_quarter="2025Q1",
    )


def test_client_is_the_entry_named_by_the_certificate(dataset: Dataset) -> None:
    """R-11."""
    client = identify_client(Annex.from_dataset(dataset), certificate("famifund-east"))
    assert client.id == "famifund-east"


@pytest.mark.parametrize("common_name", ["stranger", None, "CPAS-NAMUR", ""])
def test_unknown_certificate_is_msg00015(dataset: Dataset, common_name: str | None) -> None:
    """R-11: trusted but unknown to the configuration → MSG00015."""
    with pytest.raises(GatewayFault) as raised:
        identify_client(Annex.from_dataset(dataset), certificate(common_name))
    assert raised.value.code.code == "MSG00015"
    assert raised.value.information == ()


def test_no_certificate_is_msg00015(dataset: Dataset) -> None:
    with pytest.raises(GatewayFault):
        identify_client(Annex.from_dataset(dataset), None)


def test_service_not_allowed_is_msg00015(dataset: Dataset) -> None:
    """R-12."""
    suspended = dataset.client("suspended-institution")
    assert suspended is not None
    with pytest.raises(GatewayFault) as raised:
        authorise_service(suspended)
    assert raised.value.code.diagnostic == "AAAPolicy Authorization Refused"
    namur = dataset.client("cpas-namur")
    assert namur is not None
    authorise_service(namur)


CAREER = Operation.CONSULT_CAREER
CONTRIBUTIONS = Operation.CONSULT_CONTRIBUTIONS


@pytest.mark.parametrize(
    ("client_id", "call", "allowed"),
    [
        ("cpas-namur", request(CAREER, "PCSA:SOCIAL_INQUIRY", cbe="0212345668"), True),
        ("cpas-namur", request(CONTRIBUTIONS, "PCSA:SOCIAL_INQUIRY", cbe="0212345668"), True),
        # legal context not among the client's
        ("cpas-namur", request(CAREER, "PENSION:CAREER_CHECK", cbe="0212345668"), False),
        # customerIdentification of another institution
        ("cpas-namur", request(CAREER, "PCSA:SOCIAL_INQUIRY", cbe="0234567873"), False),
        ("cpas-namur", request(CAREER, "PCSA:SOCIAL_INQUIRY", sector=17, institution=1), False),
        # operation not allowed (pension-office only has consultCareer)
        ("pension-office", request(CONTRIBUTIONS, "PENSION:CAREER_CHECK", cbe="0345678997"), False),
        ("pension-office", request(CAREER, "PENSION:CAREER_CHECK", cbe="0345678997"), True),
        # sector + institution clients
        (
            "famifund-east",
            request(CAREER, "FAMILY_ALLOWANCES:ENTITLEMENT", sector=7, institution=2),
            True,
        ),
        (
            "famifund-east",
            request(CAREER, "FAMILY_ALLOWANCES:ENTITLEMENT", sector=7, institution=3),
            False,
        ),
        (
            "famifund-east",
            request(CAREER, "FAMILY_ALLOWANCES:ENTITLEMENT", cbe="0212345668"),
            False,
        ),
        (
            "riziv-medical",
            request(CAREER, "HEALTH_INSURANCE:MEDICAL_CONTROL", cbe="0234567873"),
            True,
        ),
    ],
)
def test_operation_legal_context_and_identification(
    dataset: Dataset, client_id: str, call: ConsultRequest, allowed: bool
) -> None:
    """R-13: NO_RESULT MSG00013 unless operation, legal context and identification match."""
    client = dataset.client(client_id)
    assert client is not None
    reply = authorise_operation(client, call)
    if allowed:
        assert reply is None
    else:
        assert reply is not None
        assert (reply.status.value, reply.status.code) == ("NO_RESULT", "MSG00013")
        assert reply.status.description == (
            "Access to this operation is not allowed with the given legalcontext and credentials."
        )
