"""XML namespaces and names of the contract (R-02, R-04, SPEC-DIGEST §10)."""

from __future__ import annotations

from selfemployed_gateway.records import Operation

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
SERVICE = "http://kszbcss.fgov.be/intf/SelfEmployedService/v2"
TYPES = "http://kszbcss.fgov.be/types/SelfEmployed/v2"
COMMON = "http://kszbcss.fgov.be/types/common/v3"

SOAP_ACTION_BASE = "http://kszbcss.fgov.be/intf/SelfEmployedService/"

REQUEST_ELEMENTS: dict[str, Operation] = {
    f"{{{SERVICE}}}{operation.value}Request": operation for operation in Operation
}


def soap_action(operation: Operation) -> str:
    """R-04: `http://kszbcss.fgov.be/intf/SelfEmployedService/<operation>`."""
    return SOAP_ACTION_BASE + operation.value


def fault_element(operation: Operation) -> str:
    return f"{{{SERVICE}}}{operation.value}Fault"
