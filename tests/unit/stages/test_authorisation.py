"""R-11 … R-14: client identification and authorisation (stages/authorisation.py), and
their steps of the decision trail (issue #18)."""

from __future__ import annotations

import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.annex import Annex
from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.decisions import DecisionTrail, Fact, Step, Verdict
from selfemployed_gateway.records import (
    CareerRequest,
    ClientCertificate,
    ConsultRequest,
    ContributionsRequest,
    GatewayFault,
    Operation,
    Organisation,
)
from selfemployed_gateway.stages.authorisation import (
    authorise_operation,
    authorise_service,
    check_consistency,
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


# --- decision trail (issue #18) ----------------------------------------------------------------


def refused(rules: tuple[str, ...], because: str, **facts: Fact) -> Step:
    return Step("authorisation", Verdict.ANSWERED, rules, facts, because)


def test_trail_of_a_certificate_bound_to_no_client(dataset: Dataset) -> None:
    """R-11: the certificate's subject and issuer (the institution's DN), recorded before the
    fault is raised."""
    stranger = ClientCertificate(
        subject="CN=stranger,O=Elsewhere",
        common_name="stranger",
        serial="02",
        sha256="11" * 32,
        issuer="CN=Some CA,O=Elsewhere",
    )
    trail = DecisionTrail()
    with pytest.raises(GatewayFault):
        identify_client(Annex.from_dataset(dataset), stranger, trail=trail)
    assert trail.steps == [
        refused(
            ("R-11",),
            "no client of the annex is bound to this certificate (subject and issuer)",
            subject="CN=stranger,O=Elsewhere",
            issuer="CN=Some CA,O=Elsewhere",
        )
    ]


def test_trail_of_no_certificate_and_of_an_unfit_one(dataset: Dataset) -> None:
    annex = Annex.from_dataset(dataset)
    trail = DecisionTrail()
    with pytest.raises(GatewayFault):
        identify_client(annex, None, trail=trail)
    unfit = certificate("cpas-namur").model_copy(
        update={"unfit_because": "no clientAuth extended key usage"}
    )
    with pytest.raises(GatewayFault):
        identify_client(annex, unfit, trail=trail)
    assert trail.steps == [
        refused(("R-11",), "no client certificate was presented", subject=None, issuer=None),
        refused(
            ("R-11",),
            "this certificate cannot identify a client: no clientAuth extended key usage",
            subject="CN=cpas-namur",
            issuer=None,
            unfit="no clientAuth extended key usage",
        ),
    ]


def test_trail_of_a_certificate_that_names_several_clients(dataset: Dataset) -> None:
    """R-14: MSG00003, the clients the one certificate names."""
    shared = "CN=shared,O=Test"
    clients = [
        c.model_copy(update={"certificate_subject": shared})
        if c.id in ("cpas-namur", "famifund-east")
        else c
        for c in dataset.clients
    ]
    annex = Annex.from_dataset(dataset.model_copy(update={"clients": clients}))
    presented = certificate("shared").model_copy(update={"subject": shared})
    trail = DecisionTrail()
    with pytest.raises(GatewayFault) as raised:
        identify_client(annex, presented, trail=trail)
    assert raised.value.code is codes.INTERNAL_ERROR
    assert trail.steps == [
        refused(
            ("R-14",),
            "this certificate identifies several clients of the annex (cpas-namur, "
            "famifund-east): the configuration is inconsistent (check-config lists it)",
            subject=shared,
            issuer=None,
            clients=["cpas-namur", "famifund-east"],
        )
    ]


def test_trail_of_a_suspended_client(dataset: Dataset) -> None:
    """R-12."""
    suspended = dataset.client("suspended-institution")
    assert suspended is not None
    trail = DecisionTrail()
    with pytest.raises(GatewayFault):
        authorise_service(suspended, trail=trail)
    assert trail.steps == [
        refused(
            ("R-12",),
            "the annex suspends this client's access to the service",
            client="suspended-institution",
            service_allowed=False,
        )
    ]


def test_trail_of_an_inconsistent_entry(dataset: Dataset) -> None:
    """R-14: the inconsistency found, as check-config words it."""
    clients = [
        c.model_copy(update={"filters": ["birthDate"]}) if c.id == "onss-inspection" else c
        for c in dataset.clients
    ]
    annex = Annex.from_dataset(dataset.model_copy(update={"clients": clients}))
    onss = annex.clients[[c.id for c in annex.clients].index("onss-inspection")]
    trail = DecisionTrail()
    with pytest.raises(GatewayFault) as raised:
        check_consistency(annex, onss, trail=trail)
    assert raised.value.code is codes.INTERNAL_ERROR
    assert trail.steps == [
        refused(
            ("R-14",),
            "the annex entry of this client contradicts the configuration (check-config "
            "lists it): no request of it is answered until it is fixed",
            client="onss-inspection",
            inconsistency=[
                "filters: filter on unknown element 'birthDate' "
                "(filterable: occupation, signatureDate)"
            ],
        )
    ]


NAMUR_CAREER = request(CAREER, "PCSA:SOCIAL_INQUIRY", cbe="0212345668")


@pytest.mark.parametrize(
    ("client_id", "call", "because"),
    [
        (
            "cpas-namur",
            request(CAREER, "PENSION:CAREER_CHECK", cbe="0212345668"),
            "the annex does not allow cpas-namur this legal context PENSION:CAREER_CHECK "
            "(allowed: PCSA:SOCIAL_INQUIRY)",
        ),
        (
            "pension-office",
            request(CONTRIBUTIONS, "PENSION:CAREER_CHECK", cbe="0345678997"),
            "the annex does not allow pension-office this operation consultContributions "
            "(allowed: consultCareer)",
        ),
        (
            "cpas-namur",
            request(CAREER, "PCSA:SOCIAL_INQUIRY", sector=17, institution=1),
            "the annex does not allow cpas-namur this customerIdentification sector 17, "
            "institution 1 (the client is CBE 0212345668)",
        ),
        (
            "pension-office",
            request(CONTRIBUTIONS, "OTHER:ANY", cbe="0212345668"),
            "the annex does not allow pension-office this operation consultContributions "
            "(allowed: consultCareer); nor this legal context OTHER:ANY (allowed: "
            "PENSION:CAREER_CHECK); nor this customerIdentification CBE 0212345668 (the "
            "client is CBE 0345678997)",
        ),
    ],
)
def test_trail_names_what_r13_does_not_allow(
    dataset: Dataset, client_id: str, call: ConsultRequest, because: str
) -> None:
    """R-13: what was asked, what the annex allows, and which of the three is refused."""
    client = dataset.client(client_id)
    assert client is not None
    trail = DecisionTrail()
    assert authorise_operation(client, call, trail=trail) is not None
    customer = call.customer
    asked = (
        f"CBE {customer.cbe_number}"
        if customer.cbe_number
        else f"sector {customer.sector}, institution {customer.institution}"
    )
    assert trail.steps == [
        refused(
            ("R-13",),
            because,
            client=client_id,
            operation=call.operation.value,
            legal_context=call.legal_context,
            identification=asked,
            allowed_operations=client.operations,
            allowed_legal_contexts=client.legal_contexts,
            allowed_identification=f"CBE {client.identification.cbeNumber}",
        )
    ]


def test_trail_of_a_client_authorised(dataset: Dataset) -> None:
    """The stage passed: one step for R-11 … R-14, recorded by its last check (R-13)."""
    namur = dataset.client("cpas-namur")
    assert namur is not None
    trail = DecisionTrail()
    assert authorise_operation(namur, NAMUR_CAREER, trail=trail) is None
    assert trail.steps == [
        Step(
            "authorisation",
            Verdict.PASSED,
            ("R-11", "R-12", "R-14", "R-13"),
            {"client": "cpas-namur"},
        )
    ]
