"""The WSDL's address and the headers: nothing a client sends is echoed, no stack disclosed.

Issue #13: `Host: evil.example` ended up in soap:address and every schemaLocation, and each
answer said `Server: TwistedWeb/<version>`. Now the address is `gateway.public_url`; without
it, a validated Host is echoed in development only, and the listener's address elsewhere.
"""

from __future__ import annotations

import httpx
from lxml import etree

from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import GatewayFactory, tls_context
from tests.support.soap import career_request, customer

PUBLIC = "https://services.example.be:8443/SelfEmployedService/v2/consult"
EVIL = {"Host": "evil.example"}
ONSS = customer(sector=21, institution=0)


def addresses(wsdl: bytes) -> list[str]:
    document = etree.fromstring(wsdl)
    (address,) = document.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address")
    locations = [e.get("schemaLocation") for e in document.iter() if e.get("schemaLocation")]
    return [str(address.get("location")), *(str(location) for location in locations)]


def test_the_wsdl_names_the_published_url_whatever_the_host(
    pki: DevPki, gateway_with: GatewayFactory
) -> None:
    url = gateway_with.server(env={"SEG_PUBLIC_URL": PUBLIC}).urls["soap"]
    with httpx.Client(verify=tls_context(pki, "cpas-namur"), timeout=10) as client:
        wsdl = client.get(url + "?wsdl", headers=EVIL)
        xsd = client.get(url + "?xsd=SelfEmployedV2.xsd", headers=EVIL)
    assert addresses(wsdl.content) == [PUBLIC, PUBLIC + "?xsd=SelfEmployedV2.xsd"]
    assert b"evil.example" not in wsdl.content + xsd.content
    assert (PUBLIC + "?xsd=").encode() in xsd.content


def test_outside_development_a_host_header_is_never_echoed(
    pki: DevPki, gateway_with: GatewayFactory
) -> None:
    url = gateway_with.server(env={"SEG_ENVIRONMENT": "acceptance"}).urls["soap"]
    with httpx.Client(verify=tls_context(pki, "cpas-namur"), timeout=10) as client:
        wsdl = client.get(url + "?wsdl", headers=EVIL)
    assert b"evil.example" not in wsdl.content
    assert addresses(wsdl.content)[0] == url  # the listener's own address


def test_no_answer_names_the_server_software(pki: DevPki, gateway_with: GatewayFactory) -> None:
    server = gateway_with.server()
    url, admin = server.urls["soap"], server.urls["admin"]
    request = career_request(ONSS, "SOCIAL_INSPECTION:INVESTIGATION", "65031510159")
    with httpx.Client(verify=tls_context(pki, "onss-inspection"), timeout=10) as client:
        answers = [
            client.post(url, content=request),
            client.post(url, content="<not-soap/>"),
            client.get(url + "?wsdl"),
            client.get(url),
            client.delete(url),
        ]
    answers += [httpx.get(admin + path) for path in ("/healthz", "/readyz", "/metrics", "/nope")]
    assert [a.status_code for a in answers] == [200, 500, 200, 405, 405, 200, 200, 200, 404]
    for answer in answers:
        assert "server" not in answer.headers, (answer.request.url, answer.headers)
        assert b"Twisted" not in answer.content
