"""R-11 … R-14: who is calling, and may they use this operation in this legal context.

The client is the annex entry that the verified TLS client certificate identifies: by its
`certificate_subject` when the entry has one, else by common name = client id (the
development PKI issues one certificate per client id).
"""

from __future__ import annotations

from selfemployed_gateway import codes
from selfemployed_gateway.annex import Annex
from selfemployed_gateway.dataset import ClientEntry
from selfemployed_gateway.records import (
    ClientCertificate,
    ConsultRequest,
    GatewayFault,
    Reply,
    information,
)


def identify_client(annex: Annex, certificate: ClientCertificate | None) -> ClientEntry:
    """R-11: a trusted certificate that names no client entry is fault MSG00015; one that
    names several is an inconsistent configuration (R-14)."""
    clients = annex.presented_by(certificate) if certificate is not None else []
    if not clients:
        raise GatewayFault(codes.AUTHORIZATION_REFUSED)
    if len(clients) > 1:
        raise inconsistent_configuration()
    return clients[0]


def client_id_of(annex: Annex, certificate: ClientCertificate | None) -> str | None:
    """The client this certificate names, or None (unknown or ambiguous: R-11 answers later).
    For admission control (R-28), before the pipeline."""
    clients = annex.presented_by(certificate) if certificate is not None else []
    return clients[0].id if len(clients) == 1 else None


def check_consistency(annex: Annex, client: ClientEntry) -> None:
    """R-14: a client whose entry contradicts the configuration gets MSG00003."""
    if client.id in annex.inconsistent_clients:
        raise inconsistent_configuration()


def inconsistent_configuration() -> GatewayFault:
    return GatewayFault(
        codes.INTERNAL_ERROR, information(codes.DETAIL, codes.AUTHORIZATION_INCONSISTENT)
    )


def authorise_service(client: ClientEntry) -> None:
    """R-12: the client may use SelfEmployedService at all, else fault MSG00015."""
    if not client.service_allowed:
        raise GatewayFault(codes.AUTHORIZATION_REFUSED)


def authorise_operation(client: ClientEntry, request: ConsultRequest) -> Reply | None:
    """R-13: operation, legal context and customerIdentification, else NO_RESULT MSG00013."""
    if (
        not client.allows(request.operation)
        or request.legal_context not in client.legal_contexts
        or not _identifies(client, request)
    ):
        return Reply(status=codes.ACCESS_NOT_ALLOWED)
    return None


def _identifies(client: ClientEntry, request: ConsultRequest) -> bool:
    """The request's customerIdentification names this client's organisation: by CBE number
    when the client has one, else by sector and institution (and then no CBE number)."""
    expected = client.organisation
    if expected.cbe_number is not None:
        return request.customer.cbe_number == expected.cbe_number
    return request.customer == expected
