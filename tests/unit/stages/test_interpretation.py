"""R-23, R-25: INASTI's outcome as the status of the reply (stages/interpretation.py), and its
step of the decision trail (issue #18)."""

from __future__ import annotations

import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.decisions import DecisionTrail, Fact, Step, Verdict
from selfemployed_gateway.records import (
    SupplierOutcome,
)
from selfemployed_gateway.stages.interpretation import status_of


@pytest.mark.parametrize(
    ("outcome", "code", "information"),
    [
        (SupplierOutcome.FOUND, codes.DATA_FOUND, ()),
        (SupplierOutcome.FUND_TIMEOUT, codes.FUND_TIMEOUT, ()),
        (SupplierOutcome.UNDER_INVESTIGATION, codes.UNDER_INVESTIGATION, ()),
        (
            SupplierOutcome.NO_DATA_FOR_PERSON,
            codes.NO_DATA_FOUND,
            (("Reason", "No data for requested person"),),
        ),
        (
            SupplierOutcome.NO_DATA_FOR_PERIOD,
            codes.NO_DATA_FOUND,
            (("Reason", "No data for requested period"),),
        ),
    ],
)
def test_supplier_outcome_becomes_a_status(
    outcome: SupplierOutcome,
    code: codes.StatusCode,
    information: tuple[tuple[str, str], ...],
) -> None:
    """R-22 (SES00005/SES00006 passed on as-is), R-23 (interpretation), R-25."""
    status, found = status_of(outcome)
    assert status is code
    assert tuple((i.field_name, i.field_value) for i in found) == information


@pytest.mark.parametrize(
    ("outcome", "facts", "because"),
    [
        (
            SupplierOutcome.NO_DATA_FOR_PERSON,
            {
                "outcome": "NO_DATA_FOR_PERSON",
                "status": "MSG00100",
                "reason": "No data for requested person",
            },
            "INASTI answered that it has no data for this person",
        ),
        (
            SupplierOutcome.NO_DATA_FOR_PERIOD,
            {
                "outcome": "NO_DATA_FOR_PERIOD",
                "status": "MSG00100",
                "reason": "No data for requested period",
            },
            "INASTI answered that it has no data for this person in the consulted period",
        ),
        (
            SupplierOutcome.FUND_TIMEOUT,
            {"outcome": "SES00005", "status": "SES00005"},
            "INASTI answered that a social insurance fund did not reply in time (passed on as "
            "SES00005)",
        ),
        (
            SupplierOutcome.UNDER_INVESTIGATION,
            {"outcome": "SES00006", "status": "SES00006"},
            "INASTI answered that this person's file is under investigation (passed on as "
            "SES00006)",
        ),
    ],
)
def test_trail_of_an_outcome_that_answers(
    outcome: SupplierOutcome, facts: dict[str, Fact], because: str
) -> None:
    """R-23: INASTI's outcome → the status (MSG00100 with its Reason, SES00005, SES00006)."""
    trail = DecisionTrail()
    status_of(outcome, trail=trail)
    assert trail.steps == [Step("interpretation", Verdict.ANSWERED, ("R-23",), facts, because)]


def test_trail_of_data_found_passes_on() -> None:
    """FOUND decides nothing yet: filtering (R-55) may still leave nothing."""
    trail = DecisionTrail()
    status_of(SupplierOutcome.FOUND, trail=trail)
    assert trail.steps == [Step("interpretation", Verdict.PASSED, ("R-23",), {"outcome": "FOUND"})]
