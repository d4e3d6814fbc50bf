"""Every XML namespace the project reads or writes, and the names derived from them.

The contract's (R-02, R-04, specification §10), SOAP's, XML Schema's and the two INASTI
protocols'. Modules import these names; none spells a namespace URI itself.
"""

from __future__ import annotations

from selfemployed_gateway.records import Operation

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAP_HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# The contract of SelfEmployedService v2.
SERVICE = "http://kszbcss.fgov.be/intf/SelfEmployedService/v2"
TYPES = "http://kszbcss.fgov.be/types/SelfEmployed/v2"
COMMON = "http://kszbcss.fgov.be/types/common/v3"
SOAP_ACTION_BASE = "http://kszbcss.fgov.be/intf/SelfEmployedService/"

# INASTI's protocols (suppliers/): the final phase's service and the transitional L302.
INASTI_FINAL = "urn:be:fgov:inasti:selfemployed:v1"
INASTI_L302 = "urn:be:fgov:inasti:l302:v1"

REQUEST_ELEMENTS: dict[str, Operation] = {
    f"{{{SERVICE}}}{operation.value}Request": operation for operation in Operation
}


def soap_action(operation: Operation) -> str:
    """R-04: `http://kszbcss.fgov.be/intf/SelfEmployedService/<operation>`."""
    return SOAP_ACTION_BASE + operation.value


def fault_element(operation: Operation) -> str:
    return f"{{{SERVICE}}}{operation.value}Fault"
