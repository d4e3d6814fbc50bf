"""Every status and fault code of the specification, defined once with its text.

Texts are those of the specification's annex (specification §3, §8; annex 10.1). Code elsewhere
uses these names, never the literal strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StatusValue(StrEnum):
    """`status/value` of a response (R-54)."""

    DATA_FOUND = "DATA_FOUND"
    NO_DATA_FOUND = "NO_DATA_FOUND"
    NO_RESULT = "NO_RESULT"


class FaultOrigin(StrEnum):
    """SOAP 1.1 `faultcode` of a fault (§8)."""

    CLIENT = "soapenv:Client"
    SERVER = "soapenv:Server"
    MUST_UNDERSTAND = "soapenv:MustUnderstand"


class Severity(StrEnum):
    """`detail/severity` of a fault (common:SeverityType)."""

    INFORMATION = "INFORMATION"
    WARNING = "WARNING"
    FATAL = "FATAL"


@dataclass(frozen=True)
class StatusCode:
    """A code answered in the `status` block of a normal response."""

    code: str
    value: StatusValue
    description: str


@dataclass(frozen=True)
class FaultCode:
    """A reason code answered as a SOAP fault."""

    code: str
    origin: FaultOrigin
    diagnostic: str
    severity: Severity = Severity.FATAL
    #: False: SOAP's own fault for the envelope, without `detail` (SOAP 1.1 §4.4, R-27).
    detail: bool = True

    @property
    def faultstring(self) -> str:
        return self.diagnostic


# Status codes (TSS annex 10.1.1).
DATA_FOUND = StatusCode("MSG00000", StatusValue.DATA_FOUND, "Treatment successful")
NO_DATA_FOUND = StatusCode(
    "MSG00100",
    StatusValue.NO_DATA_FOUND,
    "Treatment successful, but no data found at the supplier.",
)
SSIN_UNKNOWN = StatusCode(
    "MSG00005", StatusValue.NO_RESULT, "The INSZ given in request does not exist."
)
SSIN_REPLACED = StatusCode(
    "MSG00006", StatusValue.NO_RESULT, "The INSZ given in request is replaced"
)
INVALID_DATA = StatusCode(
    "MSG00008",
    StatusValue.NO_RESULT,
    "The request contains invalid data. Please check your message content.",
)
SSIN_INVALID = StatusCode(
    "MSG00011", StatusValue.NO_RESULT, "The structure of the INSZ given in request is invalid"
)
NOT_INTEGRATED_FOR_CLIENT = StatusCode(
    "MSG00012",
    StatusValue.NO_RESULT,
    "The SSIN is not sufficiently integrated for your organization",
)
ACCESS_NOT_ALLOWED = StatusCode(
    "MSG00013",
    StatusValue.NO_RESULT,
    "Access to this operation is not allowed with the given legalcontext and credentials.",
)
NOT_INTEGRATED_AT_SUPPLIER = StatusCode(
    "MSG00021",
    StatusValue.NO_DATA_FOUND,
    "The SSIN is not sufficiently integrated for the provider of the data",
)
FUND_TIMEOUT = StatusCode(
    "SES00005",
    StatusValue.NO_RESULT,
    "Time-out. At least one social security funds did not reply in the given timeframe.",
)
UNDER_INVESTIGATION = StatusCode("SES00006", StatusValue.NO_RESULT, "File under investigation.")

# Fault reason codes (TSS annex 10.1.2).
SUPPLIER_ERROR = FaultCode(
    "MSG00002", FaultOrigin.SERVER, "Error in communication with the destination/supplier"
)
INTERNAL_ERROR = FaultCode("MSG00003", FaultOrigin.SERVER, "Internal Error")
INVALID_STRUCTURE = FaultCode(
    "MSG00004", FaultOrigin.CLIENT, "The request has an invalid structure"
)
AUTHORIZATION_REFUSED = FaultCode("MSG00015", FaultOrigin.CLIENT, "AAAPolicy Authorization Refused")
NOT_AVAILABLE = FaultCode("MSG00025", FaultOrigin.SERVER, "This functionality is not available")

# R-27 [decision]: a header block with mustUnderstand="1" that the gateway does not process
# (it processes none). SOAP 1.1's own fault: no reason code, no detail; the faultstring names
# the block (information `header`, its {namespace}name).
MUST_UNDERSTAND = FaultCode(
    "MustUnderstand",
    FaultOrigin.MUST_UNDERSTAND,
    "A mandatory SOAP header block was not understood",
    detail=False,
)

# Information field names and fixed values used with these codes.
REASON = "Reason"
REASON_NO_DATA_FOR_PERSON = "No data for requested person"
REASON_NO_DATA_FOR_PERIOD = "No data for requested period"
ERROR_MESSAGE = "error message"
DETAILS = "details"
DETAIL = "detail"
NOT_INTEGRATED_DETAILS = "The SSIN is not integrated for the given PCSA."
AUTHORIZATION_INCONSISTENT = (
    "Inconsistency in the authorization configuration at CBSS (AAAPolicy vs Application)"
)
OPERATION_NOT_SUPPORTED = "operation not supported"
INVALID_PERIOD = "Invalid Period"
INVALID_QUARTER_PERIOD = "Invalid Quarter Period"
HEADER = "header"

# R-28 [decision]: a share exceeded (in flight or per second): MSG00003, information `detail`.
TOO_MANY_FOR_CLIENT = "Too many requests in progress for this client; retry later"
TOO_MANY_FOR_SERVICE = "Too many requests in progress for the service; retry later"
RETRY_AFTER_SECONDS = 1

# MSG00002 `details` values.
SUPPLIER_UNEXPECTED_RETURN_CODE = "Unexpected return code from supplier"
SUPPLIER_UNEXPECTED_RESPONSE = "Unexpected response from supplier"
SUPPLIER_NO_L302_ELEMENT = "No L302 element in the response"
SUPPLIER_L302_SOAP_FAULT = "SoapFault received during L302 call to supplier"
SUPPLIER_TIME_BUDGET = "No answer from supplier within the time budget"
# [decision] The circuit in front of INASTI is open after repeated failures: no call is made.
SUPPLIER_SUSPENDED = "Calls to supplier suspended after repeated failures"

FAULT_ACTOR = "http://www.ksz-bcss.fgov.be"
AUTHOR_CODE = "http://www.ksz-bcss.fgov.be/"

ALL_STATUS_CODES: tuple[StatusCode, ...] = (
    DATA_FOUND,
    NO_DATA_FOUND,
    SSIN_UNKNOWN,
    SSIN_REPLACED,
    INVALID_DATA,
    SSIN_INVALID,
    NOT_INTEGRATED_FOR_CLIENT,
    ACCESS_NOT_ALLOWED,
    NOT_INTEGRATED_AT_SUPPLIER,
    FUND_TIMEOUT,
    UNDER_INVESTIGATION,
)
ALL_FAULT_CODES: tuple[FaultCode, ...] = (
    SUPPLIER_ERROR,
    INTERNAL_ERROR,
    INVALID_STRUCTURE,
    AUTHORIZATION_REFUSED,
    NOT_AVAILABLE,
)
