"""R-15, R-30 … R-37: business validation of the consulted period.

Not yet implemented: issue #3 ("Business rules"). Until then every period passes.
"""

from __future__ import annotations

from datetime import date

from selfemployed_gateway.records import ConsultRequest, Reply


def validate_period(request: ConsultRequest, today: date) -> Reply | None:
    """No-op stage (issue #3): will answer MSG00008 with one information per violated rule."""
    del request, today
    return None
