"""R-11 … R-13: who is calling, and may they use this operation in this legal context.

The client is the annex entry whose id is the common name of the verified TLS client
certificate (the development PKI issues one certificate per client id).
"""

from __future__ import annotations

from collections.abc import Sequence

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import ClientEntry
from selfemployed_gateway.records import (
    ClientCertificate,
    ConsultRequest,
    GatewayFault,
    Reply,
)


def identify_client(
    clients: Sequence[ClientEntry], certificate: ClientCertificate | None
) -> ClientEntry:
    """R-11: a trusted certificate that names no client entry is fault MSG00015."""
    if certificate is not None and certificate.common_name:
        for client in clients:
            if client.id == certificate.common_name:
                return client
    raise GatewayFault(codes.AUTHORIZATION_REFUSED)


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
    expected = client.identification
    given = request.customer
    if expected.cbeNumber is not None:
        return given.cbe_number == expected.cbeNumber
    return (
        given.cbe_number is None
        and given.sector == expected.sector
        and given.institution == expected.institution
    )
