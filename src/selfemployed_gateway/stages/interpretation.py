"""R-23, R-25: interpret INASTI's answer as the status of the reply.

Passed on as-is: SES00005 (a fund did not answer in time) and SES00006 (file under
investigation). No data is NO_DATA_FOUND MSG00100 with the reason (person or period).

The decision trail's step ("interpretation", issue #18): INASTI's outcome, and the status it
becomes when that answers the request.
"""

from __future__ import annotations

from selfemployed_gateway import codes
from selfemployed_gateway.decisions import DecisionTrail, Fact
from selfemployed_gateway.records import Information, SupplierOutcome, information

STAGE = "interpretation"

_REASONS = {
    SupplierOutcome.NO_DATA_FOR_PERSON: codes.REASON_NO_DATA_FOR_PERSON,
    SupplierOutcome.NO_DATA_FOR_PERIOD: codes.REASON_NO_DATA_FOR_PERIOD,
}

# What INASTI said, in the words of the trail.
_BECAUSE = {
    SupplierOutcome.NO_DATA_FOR_PERSON: "INASTI answered that it has no data for this person",
    SupplierOutcome.NO_DATA_FOR_PERIOD: "INASTI answered that it has no data for this person "
    "in the consulted period",
    SupplierOutcome.FUND_TIMEOUT: "INASTI answered that a social insurance fund did not reply "
    "in time (passed on as SES00005)",
    SupplierOutcome.UNDER_INVESTIGATION: "INASTI answered that this person's file is under "
    "investigation (passed on as SES00006)",
}


def status_of(
    outcome: SupplierOutcome, *, trail: DecisionTrail | None = None
) -> tuple[codes.StatusCode, tuple[Information, ...]]:
    """The status code and information that a supplier outcome becomes."""
    status: codes.StatusCode
    found: tuple[Information, ...]
    if outcome is SupplierOutcome.FOUND:
        status, found = codes.DATA_FOUND, ()
    elif outcome is SupplierOutcome.FUND_TIMEOUT:
        status, found = codes.FUND_TIMEOUT, ()
    elif outcome is SupplierOutcome.UNDER_INVESTIGATION:
        status, found = codes.UNDER_INVESTIGATION, ()
    else:
        status, found = codes.NO_DATA_FOUND, (information(codes.REASON, _REASONS[outcome]),)
    if trail is not None:
        if status is codes.DATA_FOUND:
            trail.passed(STAGE, "R-23", outcome=outcome.value)
        else:
            facts: dict[str, Fact] = {"outcome": outcome.value, "status": status.code}
            if found:
                facts["reason"] = found[0].field_value
            trail.answered(STAGE, "R-23", because=_BECAUSE[outcome], **facts)
    return status, found
