"""R-23, R-25: interpret INASTI's answer as the status of the reply.

Passed on as-is: SES00005 (a fund did not answer in time) and SES00006 (file under
investigation). No data is NO_DATA_FOUND MSG00100 with the reason (person or period).
"""

from __future__ import annotations

from selfemployed_gateway import codes
from selfemployed_gateway.records import Information, SupplierOutcome, information

_REASONS = {
    SupplierOutcome.NO_DATA_FOR_PERSON: codes.REASON_NO_DATA_FOR_PERSON,
    SupplierOutcome.NO_DATA_FOR_PERIOD: codes.REASON_NO_DATA_FOR_PERIOD,
}


def status_of(outcome: SupplierOutcome) -> tuple[codes.StatusCode, tuple[Information, ...]]:
    """The status code and information that a supplier outcome becomes."""
    if outcome is SupplierOutcome.FOUND:
        return codes.DATA_FOUND, ()
    if outcome is SupplierOutcome.FUND_TIMEOUT:
        return codes.FUND_TIMEOUT, ()
    if outcome is SupplierOutcome.UNDER_INVESTIGATION:
        return codes.UNDER_INVESTIGATION, ()
    return codes.NO_DATA_FOUND, (information(codes.REASON, _REASONS[outcome]),)
