"""The simulator's Twisted resource and its configuration (simulator/resource.py)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.server.channel import UnloggedSite
from selfemployed_gateway.settings import SimulatorSettings
from selfemployed_gateway.simulator.l302 import answer_l302
from selfemployed_gateway.simulator.resource import (
    InastiSimulatorResource,
    build_simulator_site,
    simulator_l302_mapping,
)
from selfemployed_gateway.suppliers.final.protocol import (
    career_request,
)
from selfemployed_gateway.suppliers.l302.mapping import (
    L302MappingError,
)
from selfemployed_gateway.suppliers.l302.protocol import (
    l302_request,
)
from selfemployed_gateway.suppliers.soap11 import (
    envelope,
)
from tests.support.l302 import (
    MAPPING,
    MULTI,
    NOON,
    ROOT,
    WHOLE_CAREER,
    YEAR_2000,
    write,
)

# --- the simulator's resource and configuration -------------------------------------------


def post(resource: InastiSimulatorResource, path: list[bytes], body: bytes) -> DummyRequest:
    request = DummyRequest(path)
    request.method = b"POST"
    request.content = BytesIO(body)
    result = resource.render(request)
    assert isinstance(result, bytes)
    request.written.append(result)
    return request


def test_resource_dispatches_on_the_path(dataset: Dataset, tmp_path: Path) -> None:
    settings = SimulatorSettings(dataset=tmp_path / "d.json")
    resource = InastiSimulatorResource(
        dataset, settings, Clock(), now=lambda: NOON, l302_mapping=MAPPING
    )
    l302 = post(resource, [b"inasti", b"L302"], envelope(l302_request(MULTI, YEAR_2000)))
    expected = answer_l302(dataset, MAPPING, envelope(l302_request(MULTI, YEAR_2000)), NOON)
    assert (l302.responseCode, b"".join(l302.written)) == (200, expected.body)
    final = post(
        resource, [b"inasti", b"SelfEmployedService"], envelope(career_request(MULTI, YEAR_2000))
    )
    assert final.responseCode == 200 and b"RGTI0000000101" in b"".join(final.written)
    # Each path speaks its own protocol only.
    wrong = post(resource, [b"inasti", b"L302"], envelope(career_request(MULTI, YEAR_2000)))
    assert wrong.responseCode == 500


def test_resource_without_mapping_answers_l302_with_a_fault(
    dataset: Dataset, tmp_path: Path
) -> None:
    resource = InastiSimulatorResource(
        dataset, SimulatorSettings(dataset=tmp_path / "d.json"), Clock()
    )
    request = post(resource, [b"inasti", b"L302"], envelope(l302_request(MULTI, YEAR_2000)))
    assert request.responseCode == 500
    assert b"not configured" in b"".join(request.written)


def test_simulator_mapping_setting(tmp_path: Path) -> None:
    dataset_file = ROOT / "config" / "reference-dataset.json"
    assert simulator_l302_mapping(SimulatorSettings(dataset=dataset_file)) == MAPPING
    assert simulator_l302_mapping(SimulatorSettings(dataset=tmp_path / "d.json")) is None
    broken = write(tmp_path, "[categories.A]\nquality = 200\ncontribution = 101\n")
    with pytest.raises(L302MappingError):
        simulator_l302_mapping(SimulatorSettings(dataset=dataset_file, l302_mapping=broken))


def test_the_simulator_formats_no_twisted_access_line(dataset: Dataset) -> None:
    """Like the gateway's sites (issue #17): Twisted's access line went to a log nobody
    starts; the simulator under a tester's load pays nothing for it."""
    dataset_file = ROOT / "config" / "reference-dataset.json"
    site = build_simulator_site(dataset, SimulatorSettings(dataset=dataset_file), Clock())
    assert isinstance(site, UnloggedSite)


@pytest.mark.parametrize("parse_forms", [True, False])
def test_the_simulator_never_reads_a_body_as_a_form(
    dataset: Dataset, parse_forms: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bodies are SOAP envelopes: the simulator's site leaves Twisted's form parsing off (a
    third of its CPU per call went to reading each Content-Type with the email package, issue
    #17). Twisted's own default (on, for contrast) reads it for every POST."""
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport
    from twisted.web import http

    read: list[bytes] = []
    parse = http._parseContentType
    monkeypatch.setattr(http, "_parseContentType", lambda line: read.append(line) or parse(line))
    dataset_file = ROOT / "config" / "reference-dataset.json"
    site = build_simulator_site(dataset, SimulatorSettings(dataset=dataset_file), Clock())
    if parse_forms:
        site._parsePOSTFormSubmission = True
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4580))
    transport = StringTransport()
    channel.makeConnection(transport)
    body = envelope(career_request(MULTI, YEAR_2000))
    channel.dataReceived(
        b"POST /inasti/SelfEmployedService HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: text/xml; charset=utf-8\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert transport.value().startswith(b"HTTP/1.1 200 OK\r\n")
    assert read == ([b"text/xml; charset=utf-8"] if parse_forms else [])


# --- the Twisted resource, final-phase protocol ---------------------------------------------


def post_final(resource: InastiSimulatorResource, body: bytes) -> tuple[DummyRequest, object]:
    request = DummyRequest([b""])
    request.method = b"POST"
    request.content = BytesIO(body)
    return request, resource.render(request)


def test_resource_answers_at_once(dataset: Dataset, tmp_path: Path) -> None:
    settings = SimulatorSettings(dataset=tmp_path / "d.json")
    resource = InastiSimulatorResource(dataset, settings, Clock(), now=lambda: NOON)
    request, result = post_final(resource, envelope(career_request(MULTI, WHOLE_CAREER)))
    assert request.responseCode == 200
    assert isinstance(result, bytes) and b"RGTI0000000101" in result


def test_resource_delays_without_blocking_and_adds_latency(
    dataset: Dataset, tmp_path: Path
) -> None:
    clock = Clock()
    settings = SimulatorSettings(dataset=tmp_path / "d.json", latency_ms=250)
    resource = InastiSimulatorResource(dataset, settings, clock, now=lambda: NOON)
    request, result = post_final(resource, envelope(career_request(MULTI, WHOLE_CAREER)))
    assert result == NOT_DONE_YET and not request.finished
    clock.advance(0.2)
    assert not request.finished
    clock.advance(0.05)
    assert request.finished == 1 and b"RGTI0000000101" in b"".join(request.written)


def test_resource_drops_a_delayed_answer_when_the_client_goes_away(
    dataset: Dataset, tmp_path: Path
) -> None:
    clock = Clock()
    settings = SimulatorSettings(dataset=tmp_path / "d.json")
    resource = InastiSimulatorResource(dataset, settings, clock, now=lambda: NOON)
    slow = next(e for e in dataset.simulator_behaviours if e.behaviour == "slow")
    request, result = post_final(resource, envelope(career_request(slow.ssin, WHOLE_CAREER)))
    assert result == NOT_DONE_YET
    request.processingFailed(Failure(ConnectionError("client went away")))
    assert clock.getDelayedCalls() == []
    clock.advance(1000)
    assert request.written == [] and not request.finished


def test_resource_refuses_other_methods(dataset: Dataset, tmp_path: Path) -> None:
    from twisted.web.error import UnsupportedMethod

    resource = InastiSimulatorResource(
        dataset, SimulatorSettings(dataset=tmp_path / "d.json"), Clock()
    )
    request = DummyRequest([b""])
    request.method = b"PUT"
    with pytest.raises(UnsupportedMethod):  # the Site turns this into 405
        resource.render(request)


def test_get_and_head_get_a_plain_405(dataset: Dataset, tmp_path: Path) -> None:
    """A readiness probe's HEAD (suppliers/http.py) must not raise in the simulator."""
    resource = InastiSimulatorResource(
        dataset, SimulatorSettings(dataset=tmp_path / "d.json"), Clock()
    )
    for method in (b"GET", b"HEAD"):
        request = DummyRequest([b""])
        request.method = method
        body = resource.render(request)
        assert request.responseCode == 405 and b"POST" in body


def test_resource_refuses_a_huge_request(dataset: Dataset, tmp_path: Path) -> None:
    resource = InastiSimulatorResource(
        dataset, SimulatorSettings(dataset=tmp_path / "d.json"), Clock()
    )
    request, result = post_final(resource, b"<" + b"x" * 100_000)
    assert request.responseCode == 500
    assert isinstance(result, bytes) and b"request too large" in result
