"""R-23, R-25: INASTI's outcome as the status of the reply (stages/interpretation.py)."""

from __future__ import annotations

import pytest

from selfemployed_gateway import codes
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
