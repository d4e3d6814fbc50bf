"""The gateway and the simulator as containers: served over real mutual TLS (issue #15).

R-01 … R-04 (the served WSDL, imported by zeep), R-25 (DATA_FOUND), R-10 (MSG00004 fault),
R-73 (every exchange audited, also the one in flight at SIGTERM).
"""

from __future__ import annotations

import re
import ssl
import threading
import warnings

import httpx
import requests
import zeep
from zeep.transports import Transport

from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.devpki import DevPki
from tests.container.conftest import (
    UID,
    Deployment,
    Running,
    start_gateway,
    start_simulator,
)
from tests.support.docker import wait_until
from tests.support.soap import ACTION, SES, career_request, customer, fault, payload

CPAS = customer(cbe="0212345668")
DATA_FOUND = ("DATA_FOUND", "MSG00000")


def context(pki: DevPki, client_id: str) -> ssl.SSLContext:
    tls = ssl.create_default_context(cafile=str(pki.ca.cert))
    pair = pki.clients[client_id]
    tls.load_cert_chain(str(pair.cert), str(pair.key))
    return tls


def consult_career(gateway: Running, pki: DevPki, ssin: str = "65031510159") -> httpx.Response:
    body = career_request(CPAS, "PCSA:SOCIAL_INQUIRY", ssin, "2000-01-01", "2010-12-31")
    with httpx.Client(verify=context(pki, "cpas-namur"), timeout=30) as client:
        return client.post(
            gateway.soap,
            content=body.encode(),
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": ACTION + "consultCareer",
            },
        )


def status_of(response: httpx.Response) -> tuple[str, str]:
    status = payload(response.content).find("status")
    assert status is not None, response.text
    return status.findtext("value") or "", status.findtext("code") or ""


def test_zeep_imports_the_served_wsdl_and_calls_consult_career(
    gateway: Running, deployment: Deployment
) -> None:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE must not override the test CA
    session.verify = str(deployment.pki.ca.cert)
    pair = deployment.pki.clients["onss-inspection"]
    session.cert = (str(pair.cert), str(pair.key))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = zeep.Client(gateway.soap + "?wsdl", transport=Transport(session=session))
    career = client.service.consultCareer(
        informationCustomer={"customerIdentification": {"sector": 21, "institution": 0}},
        legalContext="SOCIAL_INSPECTION:INVESTIGATION",
        criteria={"ssin": "72060120261", "period": {"beginDate": "2019-01-01"}},
    )
    assert (career.status.value, career.status.code) == DATA_FOUND
    assert career.ssin._value_1 == "72060120261"


def test_consult_career_data_found(gateway: Running, deployment: Deployment) -> None:
    """R-25 through the simulator container: the dataset's career of 65031510159."""
    response = consult_career(gateway, deployment.pki)
    assert response.status_code == 200
    assert status_of(response) == DATA_FOUND
    career = payload(response.content).find("career")
    assert career is not None
    assert career.findtext("nisseReference") == "RGTI0000000101"


def test_a_schema_invalid_request_is_answered_with_the_msg00004_fault(
    gateway: Running, deployment: Deployment
) -> None:
    """R-10, §8: MSG00004, soapenv:Client, HTTP 500, the schema error as information."""
    request = career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159").replace(
        "<criteria>", "<unexpected/><criteria>"
    )
    with httpx.Client(verify=context(deployment.pki, "cpas-namur"), timeout=30) as client:
        response = client.post(
            gateway.soap, content=request.encode(), headers={"Content-Type": "text/xml"}
        )
    assert response.status_code == 500
    answer = fault(response.content)
    assert answer["element"] == f"{{{SES}}}consultCareerFault"
    assert answer["faultcode"] == "soapenv:Client"
    assert answer["faultstring"] == "The request has an invalid structure"
    assert answer["details"] == [
        {
            "severity": "FATAL",
            "reasonCode": "MSG00004",
            "diagnostic": "The request has an invalid structure",
            "authorCode": "http://www.ksz-bcss.fgov.be/",
            "information": [
                (
                    "error message",
                    "Element 'unexpected': This element is not expected. Expected is ( criteria ).",
                )
            ],
        }
    ]


def test_a_chunked_request_is_answered_on_the_read_only_root(
    gateway: Running, deployment: Deployment
) -> None:
    """A body of unknown length (Transfer-Encoding: chunked, as Java stacks send) is kept in
    memory: Twisted's temporary file had no folder to go to on a read-only root."""
    body = career_request(CPAS, "PCSA:SOCIAL_INQUIRY", "65031510159", "2000-01-01", "2010-12-31")
    pieces = [body.encode()[i : i + 300] for i in range(0, len(body), 300)]
    with httpx.Client(verify=context(deployment.pki, "cpas-namur"), timeout=30) as client:
        response = client.post(
            gateway.soap,
            content=iter(pieces),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200, response.text
    assert status_of(response) == DATA_FOUND


def test_healthz_and_readyz(gateway: Running) -> None:
    """/readyz: the configuration loaded, INASTI (the simulator container) reachable."""
    health = httpx.get(gateway.admin + "/healthz", timeout=5)
    assert (health.status_code, health.json()) == (200, {"status": "alive"})
    ready = httpx.get(gateway.admin + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "configuration": "loaded",
        "supplier_circuit": "closed",
        "supplier": "reachable",
    }


def test_the_process_runs_as_uid_10001_on_a_read_only_root(gateway: Running) -> None:
    """PID 1 is the gateway, not root; only the declared volume /app/var is writable."""
    status = gateway.container.exec("cat", "/proc/1/status")
    uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
    assert uids and uids.groups() == (str(UID), str(UID)), status
    command = gateway.container.exec("cat", "/proc/1/cmdline").split("\0")
    assert "serve" in command
    assert gateway.container.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    for path in ("/tmp/x", "/var/tmp/x"):  # mode 1777: only a read-only root refuses them
        written = gateway.container.exec("sh", "-c", f"touch {path} 2>&1", check=False)
        assert "Read-only file system" in written, path
    gateway.container.exec("touch", "/app/var/probe")  # the declared writable path


def test_sigterm_drains_the_exchange_in_flight_and_exits_0(
    image: str, deployment: Deployment
) -> None:
    """A call in flight at SIGTERM is answered and audited; the process then exits 0."""
    simulator = start_simulator(image, deployment, latency_ms=1500)
    gateway = start_gateway(image, deployment, simulator)
    try:
        answers: list[httpx.Response] = []
        call = threading.Thread(
            target=lambda: answers.append(consult_career(gateway, deployment.pki))
        )
        call.start()
        wait_until(lambda: in_flight(gateway) == 1, 10, "the exchange is in flight")
        gateway.container.signal("TERM")
        call.join(timeout=30)
        assert answers and answers[0].status_code == 200
        assert status_of(answers[0]) == DATA_FOUND
        assert gateway.container.wait(timeout=30) == 0, gateway.container.logs()
        assert gateway.var is not None
        store = SqliteAuditStore(gateway.var / "audit.sqlite3")
        try:
            outcomes = [record.outcome for record in store.find(client_id=None, limit=10)]
        finally:
            store.close()
        assert outcomes == ["MSG00000"]  # the status code of DATA_FOUND
    finally:
        gateway.container.remove()
        simulator.container.remove()


def in_flight(gateway: Running) -> float:
    text = httpx.get(gateway.admin + "/metrics", timeout=5).text
    found = re.search(r"^seg_requests_in_flight (\S+)$", text, re.M)
    return float(found.group(1)) if found else -1.0
