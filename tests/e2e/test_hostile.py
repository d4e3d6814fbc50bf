"""End-to-end: hostile requests over real mutual TLS (R-10, R-26, R-80, §8).

Every case of the corpus in tests/hostile/ (files, and generate.py for the large ones) is sent
to the running gateway. Each gets exactly the answer written in `CASES`: a spec fault
(MSG00004, HTTP 500, soapenv:Client, `consultCareerFault` per §10 [decision]) for a POST, a
plain 405 for another method, a plain 413 for a body over the limit — or a normal answer where
the request is in fact legitimate (UTF-16, ignored schema-location hints, no Content-Type).
Every answer comes within a second, echoes nothing it should not, and the gateway still answers
the known DATA_FOUND request correctly afterwards.

The request limits of server/channel.py are checked with raw TLS sockets: a body over the
limit is refused before it is sent in full (Content-Length or chunked), and a client that
dribbles its headers or body is cut off after `gateway.request_timeout_seconds`.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from selfemployed_gateway.devpki import DevPki
from selfemployed_gateway.xmlsafe import XmlSchema
from tests.e2e.conftest import GatewayFactory, tls_context
from tests.hostile import generate
from tests.support.processes import PROJECT, Server
from tests.support.soap import ACTION, SES, fault, payload, status

KNOWN = generate.known_request()
SERVICE_XSD = XmlSchema.from_file(PROJECT / "xsd" / "SelfEmployedV2.xsd")
SLOW_TIMEOUT = 1.0  # SEG_REQUEST_TIMEOUT of the gateway started for the slow-client tests
LIMIT = generate.DEFAULT_LIMIT  # gateway.max_request_bytes of the session gateway
PATH = "/SelfEmployedService/v2/consult"


def corpus(name: str) -> Callable[[], bytes]:
    return (generate.CORPUS / name).read_bytes


@dataclass(frozen=True)
class Case:
    """One hostile request and the one answer it must get."""

    name: str
    body: Callable[[], bytes]
    status: int
    method: str = "POST"
    content_type: str | None = "text/xml; charset=utf-8"
    soap_action: str | None = None
    # For a fault: one of these in its `error message`; for a 200: the status code.
    message: tuple[str, ...] = ()
    code: str = "MSG00004"
    # Bytes that must not appear in the answer (file contents, expanded entities).
    forbidden: tuple[bytes, ...] = (b"root:", b"lollol", b"aaaaaaaaaa")


NOT_WELL_FORMED = "not well-formed XML"
NO_DTD = "A document type declaration (DTD) is not allowed"
NOT_LOADED = "external resources are never loaded"

CASES = [
    # Entities and DTDs: never expanded, never loaded (soap/envelope.py).
    Case("billion-laughs", corpus("billion-laughs.xml"), 500, message=("amplification", NO_DTD)),
    Case("quadratic-blowup", generate.quadratic_blowup, 500, message=("amplification", NO_DTD)),
    Case("external-entity-file", corpus("external-entity-file.xml"), 500, message=(NO_DTD,)),
    Case("external-entity-http", corpus("external-entity-http.xml"), 500, message=(NO_DTD,)),
    Case(
        "external-parameter-entity",
        corpus("external-parameter-entity.xml"),
        500,
        message=(NOT_LOADED,),
    ),
    Case("external-dtd-file", corpus("external-dtd.xml"), 500, message=(NOT_LOADED,)),
    Case("external-dtd-http", corpus("external-dtd-http.xml"), 500, message=(NOT_LOADED,)),
    Case("xinclude", corpus("xinclude.xml"), 500, message=("XInclude}include",)),
    # Schema-location hints are legal and ignored (nothing fetched): a normal answer.
    Case("schema-location-outside", corpus("schema-location-outside.xml"), 200, code="MSG00000"),
    # Size and shape.
    Case("deep-nesting-300", generate.deep_nesting, 500, message=("Excessive depth",)),
    # XML threat limits, checked while parsing (xmlsafe.XmlLimits).
    Case("siblings-5000", generate.many_siblings, 500, message=("more than 64 children",)),
    Case(
        "attribute-60KB",
        generate.huge_attribute,
        500,
        message=("an attribute longer than 1024 characters",),
    ),
    Case(
        "header-element-bomb",
        generate.header_element_bomb,
        500,
        message=("exceeds the XML limits: an element with more than 64 children",),
    ),
    Case("large-header", generate.large_header, 500, message=("a Header larger than 16384",)),
    Case("long-text", generate.long_text, 500, message=("a text longer than 4096 characters",)),
    Case("body-over-limit", generate.over_limit, 413),
    Case("empty-body", corpus("empty.xml"), 500, message=("Empty request",)),
    # Encodings: invalid UTF-8 is not XML; UTF-16 with a BOM is XML like any other.
    Case("invalid-utf8", corpus("invalid-utf8.xml"), 500, message=(NOT_WELL_FORMED,)),
    Case("utf16-bom", corpus("utf16-bom.xml"), 200, code="MSG00000"),
    # Content-Type: SOAP 1.1 is text/xml; none at all is accepted (curl).
    Case(
        "content-type-soap12",
        corpus("known-request.xml"),
        500,
        content_type="application/soap+xml; charset=utf-8",
        message=("is SOAP 1.2, which is not supported",),
    ),
    Case(
        "content-type-json",
        corpus("known-request.xml"),
        500,
        content_type="application/json",
        message=("Content-Type 'application/json' is not allowed",),
    ),
    Case(
        "content-type-form",
        corpus("known-request.xml"),
        500,
        content_type="application/x-www-form-urlencoded",
        message=("is not allowed",),
    ),
    Case(
        "content-type-multipart",
        lambda: b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--",
        500,
        content_type="multipart/form-data; boundary=x",
        message=("is not allowed",),
    ),
    Case(
        "content-type-missing", corpus("known-request.xml"), 200, content_type=None, code="MSG00000"
    ),
    # Methods: no SOAP call, no SOAP answer.
    Case("get", lambda: b"", 405, method="GET", content_type=None),
    Case("put", corpus("known-request.xml"), 405, method="PUT"),
    Case("delete", lambda: b"", 405, method="DELETE", content_type=None),
    Case("options", lambda: b"", 405, method="OPTIONS", content_type=None),
    # The envelope.
    Case("soap12-envelope", corpus("soap12-envelope.xml"), 500, message=("SOAP 1.2",)),
    Case(
        "body-two-children",
        corpus("body-two-children.xml"),
        500,
        message=("exactly one request element, not 2",),
    ),
    Case(
        "unknown-body-element",
        corpus("unknown-body-element.xml"),
        500,
        message=("Unknown request element",),
    ),
    Case(
        "soap-action-mismatch",
        corpus("known-request.xml"),
        500,
        soap_action=ACTION + "consultContributions",
        message=("does not match the Body element",),
    ),
    Case("header-only", corpus("header-only.xml"), 500, message=("one Body",)),
]


def check_known_request(client: httpx.Client, url: str) -> None:
    """The DATA_FOUND request of test_foundation still gets its answer."""
    response = client.post(url, content=KNOWN, headers={"Content-Type": "text/xml"})
    assert response.status_code == 200
    element = payload(response.content)
    assert status(element)["code"] == "MSG00000"
    assert element.findtext("ssin") == "65031510159"


def check_answer(case: Case, response: httpx.Response) -> None:
    assert response.status_code == case.status, response.text[:500]
    for forbidden in case.forbidden:
        assert forbidden not in response.content
    if case.status == 200:
        assert status(payload(response.content))["code"] == case.code
    elif case.status == 500:
        answer = fault(response.content)
        assert answer["faultcode"] == "soapenv:Client"
        assert answer["element"] == f"{{{SES}}}consultCareerFault"
        details = answer["details"]
        assert isinstance(details, list)
        (detail,) = details
        assert detail["reasonCode"] == case.code
        ((name, message),) = detail["information"]
        assert name == "error message"
        assert any(expected in message for expected in case.message), message
        (detail_element,) = list(payload(response.content).find("detail"))
        assert SERVICE_XSD.first_error(detail_element) is None
    else:
        assert response.headers["content-type"].startswith("text/plain")
        if case.status == 405:
            assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_request(pki: DevPki, gateway: Server, case: Case) -> None:
    """The exact answer of each case within a second; then a valid request still works."""
    url = gateway.urls["soap"]
    headers = {}
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    if case.soap_action is not None:
        headers["SOAPAction"] = case.soap_action
    body = case.body()
    with httpx.Client(verify=tls_context(pki, "cpas-namur"), timeout=10) as client:
        started = time.monotonic()
        response = client.request(case.method, url, content=body or None, headers=headers)
        elapsed = time.monotonic() - started
        check_answer(case, response)
        assert elapsed < 1.0, f"{case.name} answered in {elapsed:.2f} s"
        check_known_request(client, url)


def test_nothing_is_fetched_from_urls_in_a_request(pki: DevPki, gateway: Server) -> None:
    """External entities, DTDs and schema locations that point to a listening port: the
    gateway never connects to it (soap/envelope.py)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        trap = f"http://127.0.0.1:{listener.getsockname()[1]}/".encode()
        names = ["external-entity-http.xml", "external-dtd-http.xml", "schema-location-outside.xml"]
        with httpx.Client(verify=tls_context(pki, "cpas-namur"), timeout=10) as client:
            for name in names:
                body = (generate.CORPUS / name).read_bytes().replace(b"http://127.0.0.1:9/", trap)
                assert trap in body
                response = client.post(
                    gateway.urls["soap"], content=body, headers={"Content-Type": "text/xml"}
                )
                assert response.status_code in (200, 500)
        time.sleep(0.2)
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_chunked_request_within_the_limit_is_answered(pki: DevPki, gateway: Server) -> None:
    """A chunked body (no Content-Length) is read like any other when it is small enough."""
    with httpx.Client(verify=tls_context(pki, "cpas-namur"), timeout=10) as client:
        response = client.post(
            gateway.urls["soap"],
            content=iter([KNOWN[:100], KNOWN[100:300], KNOWN[300:]]),
            headers={"Content-Type": "text/xml"},
        )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200
    assert status(payload(response.content))["code"] == "MSG00000"


# --- raw TLS connections -----------------------------------------------------------------


def raw_tls(pki: DevPki, url: str, client: str = "cpas-namur") -> ssl.SSLSocket:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
    return tls_context(pki, client).wrap_socket(sock, server_hostname=parts.hostname)


def request_head(length: int | None, *extra: str) -> bytes:
    lines = [f"POST {PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: text/xml"]
    if length is None:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {length}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def poll(sock: ssl.SSLSocket, seconds: float) -> tuple[bytes, bool]:
    """What arrives within `seconds` (non-blocking), and whether the server closed."""
    sock.setblocking(False)
    received = b""
    until = time.monotonic() + seconds
    try:
        while True:
            try:
                chunk = sock.recv(65536)
            except ssl.SSLWantReadError:
                if time.monotonic() >= until:
                    return received, False
                time.sleep(0.005)
                continue
            except OSError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
    finally:
        sock.setblocking(True)


def dribble(sock: ssl.SSLSocket, data: bytes, interval: float) -> tuple[bytes, float, int]:
    """Send `data` one byte every `interval` seconds until the server cuts the connection:
    what it answered, after how long, and how many bytes were sent."""
    started = time.monotonic()
    received = b""
    for sent, byte in enumerate(data):
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return received, time.monotonic() - started, sent
        chunk, closed = poll(sock, interval)
        received += chunk
        if closed:
            return received, time.monotonic() - started, sent + 1
    return received, time.monotonic() - started, len(data)


def read_response(sock: ssl.SSLSocket, timeout: float = 5) -> bytes:
    """One HTTP response (status line, headers and a Content-Length body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def slow_gateway(gateway_with: GatewayFactory) -> Iterator[str]:
    """A gateway whose requests must arrive within SLOW_TIMEOUT seconds."""
    yield gateway_with(env={"SEG_REQUEST_TIMEOUT": f"{SLOW_TIMEOUT:g}"}).url


def test_content_length_over_the_limit_is_refused_before_the_body(
    pki: DevPki, gateway: Server
) -> None:
    """413 on the headers alone: no `100 Continue`, not one byte of the body sent."""
    with raw_tls(pki, gateway.urls["soap"]) as sock:
        sock.sendall(request_head(2 * LIMIT, "Expect: 100-continue"))
        answer = read_response(sock, timeout=2)
    assert answer.startswith(b"HTTP/1.1 413 Payload Too Large\r\n"), answer[:200]
    assert b"Connection: close" in answer
    assert f"at most {LIMIT} bytes".encode() in answer


def test_absurd_content_length_is_refused_and_closed_at_once(pki: DevPki, gateway: Server) -> None:
    """A Content-Length beyond what is worth draining: 413, then the connection closes."""
    with raw_tls(pki, gateway.urls["soap"]) as sock:
        started = time.monotonic()
        sock.sendall(request_head(10**12))
        answer, closed = poll(sock, 2)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert closed and elapsed < 1.5


def test_chunked_body_over_the_limit_is_refused_while_it_arrives(
    pki: DevPki, gateway: Server
) -> None:
    """The chunk that crosses the limit is answered 413 while the client is still sending."""
    chunk = b"<" * 65536
    planned = 4 * LIMIT
    with raw_tls(pki, gateway.urls["soap"]) as sock:
        sock.sendall(request_head(None))
        sent = 0
        answer = b""
        while sent < planned:
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
            answer, _closed = poll(sock, 0.02)
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert LIMIT < sent < planned, sent


def test_slow_headers_are_cut_off(pki: DevPki, slow_gateway: str) -> None:
    """Headers dribbled one byte every 50 ms: 408 and closed within timeout + 1 s."""
    head = request_head(len(KNOWN))
    with raw_tls(pki, slow_gateway) as sock:
        answer, elapsed, sent = dribble(sock, head, 0.05)
    assert sent < len(head)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:200]
    assert elapsed < SLOW_TIMEOUT + 1, elapsed


def test_slow_body_is_cut_off(pki: DevPki, slow_gateway: str) -> None:
    """Headers at once, then the body dribbled: 408 and closed within timeout + 1 s."""
    with raw_tls(pki, slow_gateway) as sock:
        started = time.monotonic()
        sock.sendall(request_head(len(KNOWN)))
        answer, _elapsed, sent = dribble(sock, KNOWN, 0.05)
        elapsed = time.monotonic() - started
    assert sent < len(KNOWN)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:200]
    assert elapsed < SLOW_TIMEOUT + 1, elapsed


def test_silent_connection_is_closed(pki: DevPki, slow_gateway: str) -> None:
    """A connection that never sends a request is closed without an answer."""
    with raw_tls(pki, slow_gateway) as sock:
        started = time.monotonic()
        answer, closed = poll(sock, SLOW_TIMEOUT + 2)
        elapsed = time.monotonic() - started
    assert (answer, closed) == (b"", True)
    assert elapsed < SLOW_TIMEOUT + 1, elapsed


def test_the_deadline_counts_from_the_first_byte_of_each_request(
    pki: DevPki, slow_gateway: str
) -> None:
    """A kept-alive connection may wait longer than the timeout between requests; processing
    time is not counted either: two requests, a pause longer than the timeout between them."""
    with raw_tls(pki, slow_gateway) as sock:
        for pause in (0, SLOW_TIMEOUT + 0.5):
            time.sleep(pause)
            sock.sendall(request_head(len(KNOWN)) + KNOWN)
            answer = read_response(sock)
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
            assert b"<code>MSG00000</code>" in answer
