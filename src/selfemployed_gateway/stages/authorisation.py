"""R-11 … R-14: who is calling, and may they use this operation in this legal context.

The client is the annex entry that the verified TLS client certificate identifies: by its
`certificate_subject` when the entry has one, else by common name = client id (the
development PKI issues one certificate per client id).

The four checks are one stage of the decision trail ("authorisation", issue #18): a check
that refuses records the step that answered, before the fault is raised or the status
returned; R-13, the last, records the stage passed.
"""

from __future__ import annotations

from selfemployed_gateway import codes
from selfemployed_gateway.annex import Annex
from selfemployed_gateway.dataset import ClientEntry
from selfemployed_gateway.decisions import DecisionTrail
from selfemployed_gateway.records import (
    ClientCertificate,
    ConsultRequest,
    GatewayFault,
    Organisation,
    Reply,
    information,
)

STAGE = "authorisation"


def identify_client(
    annex: Annex, certificate: ClientCertificate | None, *, trail: DecisionTrail | None = None
) -> ClientEntry:
    """R-11: a trusted certificate that names no client entry is fault MSG00015; one that
    names several is an inconsistent configuration (R-14)."""
    clients = annex.presented_by(certificate) if certificate is not None else []
    if not clients:
        if trail is not None:
            _unknown_certificate(certificate, trail)
        raise GatewayFault(codes.AUTHORIZATION_REFUSED)
    if len(clients) > 1:
        if trail is not None and certificate is not None:
            names = ", ".join(client.id for client in clients)
            trail.answered(
                STAGE,
                "R-14",
                because=f"this certificate identifies several clients of the annex ({names}): "
                "the configuration is inconsistent (check-config lists it)",
                subject=certificate.subject,
                issuer=certificate.issuer,
                clients=[client.id for client in clients],
            )
        raise inconsistent_configuration()
    return clients[0]


def _unknown_certificate(certificate: ClientCertificate | None, trail: DecisionTrail) -> None:
    if certificate is None:
        trail.answered(
            STAGE, "R-11", because="no client certificate was presented", subject=None, issuer=None
        )
        return
    if certificate.unfit_because is not None:
        trail.answered(
            STAGE,
            "R-11",
            because=f"this certificate cannot identify a client: {certificate.unfit_because}",
            subject=certificate.subject,
            issuer=certificate.issuer,
            unfit=certificate.unfit_because,
        )
        return
    trail.answered(
        STAGE,
        "R-11",
        because="no client of the annex is bound to this certificate (subject and issuer)",
        subject=certificate.subject,
        issuer=certificate.issuer,
    )


def client_id_of(annex: Annex, certificate: ClientCertificate | None) -> str | None:
    """The client this certificate names, or None (unknown or ambiguous: R-11 answers later).
    For admission control (R-28), before the pipeline."""
    clients = annex.presented_by(certificate) if certificate is not None else []
    return clients[0].id if len(clients) == 1 else None


def check_consistency(
    annex: Annex, client: ClientEntry, *, trail: DecisionTrail | None = None
) -> None:
    """R-14: a client whose entry contradicts the configuration gets MSG00003."""
    if client.id in annex.inconsistent_clients:
        if trail is not None:
            found = [f"{p.field}: {p.message}" for p in annex.problems if p.client == client.id]
            trail.answered(
                STAGE,
                "R-14",
                because="the annex entry of this client contradicts the configuration "
                "(check-config lists it): no request of it is answered until it is fixed",
                client=client.id,
                inconsistency=found,
            )
        raise inconsistent_configuration()


def inconsistent_configuration() -> GatewayFault:
    return GatewayFault(
        codes.INTERNAL_ERROR, information(codes.DETAIL, codes.AUTHORIZATION_INCONSISTENT)
    )


def authorise_service(client: ClientEntry, *, trail: DecisionTrail | None = None) -> None:
    """R-12: the client may use SelfEmployedService at all, else fault MSG00015."""
    if not client.service_allowed:
        if trail is not None:
            trail.answered(
                STAGE,
                "R-12",
                because="the annex suspends this client's access to the service",
                client=client.id,
                service_allowed=False,
            )
        raise GatewayFault(codes.AUTHORIZATION_REFUSED)


def authorise_operation(
    client: ClientEntry, request: ConsultRequest, *, trail: DecisionTrail | None = None
) -> Reply | None:
    """R-13: operation, legal context and customerIdentification, else NO_RESULT MSG00013.

    The last check of the stage: when it passes, the trail records the stage passed (R-11,
    R-12 and R-14 passed before it, or the request would not be here)."""
    operation_allowed = client.allows(request.operation)
    context_allowed = request.legal_context in client.legal_contexts
    identified = _identifies(client, request)
    if operation_allowed and context_allowed and identified:
        if trail is not None:
            trail.passed(STAGE, "R-11", "R-12", "R-14", "R-13", client=client.id)
        return None
    if trail is not None:
        asked = organisation_text(request.customer)
        expected = organisation_text(client.organisation)
        refused: list[str] = []
        if not operation_allowed:
            refused.append(
                f"operation {request.operation.value} (allowed: {_listed(client.operations)})"
            )
        if not context_allowed:
            refused.append(
                f"legal context {request.legal_context} (allowed: {_listed(client.legal_contexts)})"
            )
        if not identified:
            refused.append(f"customerIdentification {asked} (the client is {expected})")
        trail.answered(
            STAGE,
            "R-13",
            because=f"the annex does not allow {client.id} this " + "; nor this ".join(refused),
            client=client.id,
            operation=request.operation.value,
            legal_context=request.legal_context,
            identification=asked,
            allowed_operations=list(client.operations),
            allowed_legal_contexts=list(client.legal_contexts),
            allowed_identification=expected,
        )
    return Reply(status=codes.ACCESS_NOT_ALLOWED)


def _identifies(client: ClientEntry, request: ConsultRequest) -> bool:
    """The request's customerIdentification names this client's organisation: by CBE number
    when the client has one, else by sector and institution (and then no CBE number)."""
    expected = client.organisation
    if expected.cbe_number is not None:
        return request.customer.cbe_number == expected.cbe_number
    return request.customer == expected


def organisation_text(organisation: Organisation) -> str:
    """`CBE 0212345668`, `sector 7, institution 2`: an institution as the trail names it."""
    parts = []
    if organisation.cbe_number is not None:
        parts.append(f"CBE {organisation.cbe_number}")
    if organisation.sector is not None:
        parts.append(f"sector {organisation.sector}")
    if organisation.institution is not None:
        parts.append(f"institution {organisation.institution}")
    return ", ".join(parts) or "none"


def _listed(values: list[str]) -> str:
    return ", ".join(values) if values else "none"
