"""R-73 under a flood of large requests: every exchange is in the trail, each row bounded."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from tests.e2e.conftest import GatewayFactory
from tests.support.admin import audit_path, audit_protection
from tests.support.soap import career_request, customer, fault

ONSS = customer(sector=21, institution=0)
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
CAP = 4096


def test_large_requests_are_audited_with_their_start_digest_and_length(
    gateway_with: GatewayFactory,
) -> None:
    """40 requests of 300 KB at once (bodies up to 1 MiB allowed here): each answered MSG00004
    (a text over the XML limits), each in the trail, none stored whole."""
    env = {"SEG_MAX_REQUEST_BYTES": str(1024 * 1024), "SEG_AUDIT_MAX_REQUEST_BYTES": str(CAP)}
    server = gateway_with.server(env=env)
    onss = gateway_with(env=env)("onss-inspection")
    request = career_request(ONSS, CONTEXT, "65031510159").replace(
        "<soapenv:Body>",
        "<soapenv:Header><h>" + "x" * 300_000 + "</h></soapenv:Header><soapenv:Body>",
    )
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: onss.post(request), range(40)))
    tickets = {str(fault(a.content)["ticketCBSS"]) for a in answers}
    assert {a.status_code for a in answers} == {500}
    assert len(tickets) == 40
    store, protection = SqliteAuditStore(audit_path(server)), audit_protection(server)
    try:
        rows = [store.by_ticket(ticket) for ticket in sorted(tickets)]
    finally:
        store.close()
    assert all(len(found) == 1 for found in rows)
    for (sealed,) in rows:
        assert sealed.key_id == protection.sealing_key_id  # sealed at rest (issue #13)
        row = protection.open(sealed)
        assert row.outcome == "MSG00004"
        assert len(row.request_xml) < CAP + 200
        assert row.request_xml.startswith(b"<!-- selfemployed-gateway: message of ")
        assert f"message of {len(request.encode())} bytes".encode() in row.request_xml
        assert row.response_xml.startswith(b"<?xml")  # a fault is small: stored whole
