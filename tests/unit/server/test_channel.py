"""server.channel: bodies kept in memory (issue #15, a read-only root has no /tmp)."""

from __future__ import annotations

from io import BytesIO

import pytest
from twisted.web import resource, server

from selfemployed_gateway.server.channel import InMemoryBodySite


@pytest.mark.parametrize("length", [None, 0, 99_999, 100_000, 64 * 1024 * 1024])
def test_every_body_goes_to_memory_never_to_a_temporary_file(length: int | None) -> None:
    """Twisted's own choice is a TemporaryFile for chunked bodies and from 100 kB."""
    site = InMemoryBodySite(resource.Resource())
    assert type(site.getContentFile(length)) is BytesIO


def test_the_soap_site_formats_no_twisted_access_line() -> None:
    """Twisted's combined-format access line went to a log nobody reads (issue #17): the
    SOAP site (an UnloggedSite, like the admin site's and the simulator's) writes none, even
    to an access log file set on it."""
    from io import StringIO

    from twisted.web.test.requesthelper import DummyRequest

    from selfemployed_gateway.metrics import GatewayMetrics
    from selfemployed_gateway.server.channel import GatewaySite
    from selfemployed_gateway.server.connections import ConnectionBudget

    site = GatewaySite(
        resource.Resource(),
        GatewayMetrics("final"),
        connections=ConnectionBudget(
            max_connections=8,
            max_per_peer=8,
            max_age_seconds=60,
            max_requests=100,
            new_per_second_per_peer=10,
        ),
    )
    written = StringIO()
    site._logFile = written  # what Twisted writes its access lines to
    site.log(DummyRequest([b""]))  # would raise on this bare request if it formatted one
    assert written.getvalue() == ""
    plain = server.Site(resource.Resource())  # Twisted's own behaviour, for contrast
    plain._logFile = written
    request = DummyRequest([b""])
    request.code, request.uri, request.clientproto = 200, b"/", b"HTTP/1.1"
    request.sentLength = 10
    plain.log(request)
    assert '"GET / HTTP/1.1" 200' in written.getvalue()


def test_no_site_of_the_project_parses_forms() -> None:
    """UnloggedSite, the base of the SOAP, admin and simulator sites, turns Twisted's form
    parsing off (issue #17): SOAP bodies are no forms, and the admin site serves GETs. The
    simulator's test (tests/unit/simulator/test_resource.py) shows the parse it saves."""
    from selfemployed_gateway.metrics import GatewayMetrics
    from selfemployed_gateway.server.channel import GatewaySite
    from selfemployed_gateway.server.connections import ConnectionBudget

    soap = GatewaySite(
        resource.Resource(),
        GatewayMetrics("final"),
        connections=ConnectionBudget(
            max_connections=8,
            max_per_peer=8,
            max_age_seconds=60,
            max_requests=100,
            new_per_second_per_peer=10,
        ),
    )
    admin = InMemoryBodySite(resource.Resource(), timeout=30)
    assert (soap._parsePOSTFormSubmission, admin._parsePOSTFormSubmission) == (False, False)
    assert server.Site(resource.Resource())._parsePOSTFormSubmission is True  # Twisted's own


def test_refused_tls_connections_are_all_counted_and_logged_at_a_bounded_rate(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scanner refused in a loop must not flood the log: every refusal counts in the
    metric, at most `TLS_FAILURE_BURST` of them are logged at once, then one a second."""
    from OpenSSL import SSL
    from twisted.internet.testing import StringTransport
    from twisted.python.failure import Failure

    from selfemployed_gateway.metrics import GatewayMetrics
    from selfemployed_gateway.rates import TokenBuckets
    from selfemployed_gateway.server import channel
    from selfemployed_gateway.server.connections import ConnectionBudget

    now = [100.0]
    monkeypatch.setattr(channel, "_TLS_FAILURE_LINES", TokenBuckets(clock=lambda: now[0]))
    metrics = GatewayMetrics("final")
    site = channel.GatewaySite(
        resource.Resource(),
        metrics,
        connections=ConnectionBudget(
            max_connections=100,
            max_per_peer=100,
            max_age_seconds=60,
            max_requests=100,
            new_per_second_per_peer=100,
        ),
    )

    def refuse(count: int) -> None:
        for _ in range(count):
            protocol = site.buildProtocol(None)
            protocol.makeConnection(StringTransport())
            protocol.connectionLost(Failure(SSL.Error([("SSL routines", "", "unknown ca")])))

    with caplog.at_level("WARNING", logger=channel.__name__):
        refuse(50)
        now[0] += 3.0
        refuse(10)
    lines = [r for r in caplog.records if r.getMessage() == "TLS connection failed"]
    assert len(lines) == channel.TLS_FAILURE_BURST + 3
    assert {r.__dict__["tls_error"] for r in lines} == {"unknown ca"}
    assert metrics.tls_handshake_failures._value.get() == 60
