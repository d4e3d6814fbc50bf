"""What the built-in INASTI simulator sends, whatever the protocol: the answer as a value,
the misbehaviours of `simulator_behaviours`, and the reading of a raw request.

Both protocol simulators (`final.py`, `l302.py`) build on this module; the Twisted resource
(`resource.py`) sends what they decide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from lxml import etree

from selfemployed_gateway.dataset import Dataset, SimulatorBehaviour
from selfemployed_gateway.privacy import ssin_tag
from selfemployed_gateway.records import Operation
from selfemployed_gateway.suppliers.soap11 import (
    CONTENT_TYPE,
    ProtocolError,
    fault_envelope,
    read_payload,
)
from selfemployed_gateway.xmlsafe import XmlSchema

GARBAGE_BODY = b"Service Temporarily Unavailable <<< this is not XML"


@dataclass(frozen=True)
class SimulatorAnswer:
    """What to send: HTTP status, body, after how long; `outcome` names it for logs and tests."""

    status: int
    body: bytes
    outcome: str
    delay_seconds: float = 0.0
    content_type: str = CONTENT_TYPE


def behaviour_for(dataset: Dataset, ssin: str, operation: Operation) -> SimulatorBehaviour | None:
    """The first `simulator_behaviours` entry of `ssin` that applies to `operation`."""
    return next(
        (
            entry
            for entry in dataset.simulator_behaviours
            if entry.ssin == ssin and entry.applies_to(operation)
        ),
        None,
    )


def soap_fault_answer(faultcode: str, faultstring: str, outcome: str) -> SimulatorAnswer:
    """HTTP 500 with a SOAP 1.1 Fault (`faultcode` Client or Server)."""
    return SimulatorAnswer(status=500, body=fault_envelope(faultcode, faultstring), outcome=outcome)


def misbehave(
    behaviour: SimulatorBehaviour | None,
    statuses: Mapping[str, Callable[[], SimulatorAnswer]],
    fault_text: str,
    normal: Callable[[], SimulatorAnswer],
) -> SimulatorAnswer:
    """The answer a `simulator_behaviours` entry asks for, else the normal answer.

    `statuses` gives, per behaviour, the protocol's own status answer (fund_timeout,
    under_investigation); a behaviour the protocol has no status for is answered normally.
    soap_fault, garbage and slow are the same for every protocol.
    """
    kind = None if behaviour is None else behaviour.behaviour
    if kind is not None and kind in statuses:
        return statuses[kind]()
    if kind == "soap_fault":
        return soap_fault_answer("Server", fault_text, "soap_fault")
    if kind == "garbage":
        return SimulatorAnswer(
            status=200,
            body=GARBAGE_BODY,
            outcome="garbage",
            content_type="text/plain; charset=utf-8",
        )
    answer = normal()
    if kind == "slow" and behaviour is not None:
        return replace(answer, delay_seconds=behaviour.delay_seconds or 0.0)
    return answer


def read_request(body: bytes, schema: XmlSchema) -> etree._Element | SimulatorAnswer:
    """The Body element of a raw request valid against `schema`, or the Client SOAP Fault for
    a body that is not one (both protocols)."""
    try:
        payload = read_payload(body)
    except ProtocolError as exc:
        return soap_fault_answer("Client", str(exc)[:200], "client_fault")
    error = schema.first_error(payload)
    if error is not None:
        return soap_fault_answer("Client", f"invalid request: {error}"[:200], "client_fault")
    return payload


def request_ssin_tag(body: bytes) -> str:
    """For logs: the hashed NISS of a request body, or '-' when it cannot be read."""
    try:
        payload = read_payload(body)
        ssin = payload.findtext("ssin") or payload.findtext("SSIN")  # final phase or L302
    except ProtocolError:
        return "-"
    return "-" if not ssin else ssin_tag(ssin)
