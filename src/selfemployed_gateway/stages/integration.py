"""R-20, R-21, R-40 … R-46: is this person known to this client, and to INASTI.

Not yet implemented: issue #3 ("Business rules"). Until then every person is integrated.
"""

from __future__ import annotations

from selfemployed_gateway.dataset import ClientEntry
from selfemployed_gateway.records import ConsultRequest, DatePeriod, Reply


def check_client_integration(
    client: ClientEntry, request: ConsultRequest, period: DatePeriod
) -> Reply | None:
    """No-op stage (issue #3): will answer MSG00012."""
    del client, request, period
    return None


def check_supplier_integration(ssin: str, period: DatePeriod) -> Reply | None:
    """No-op stage (issue #3): will answer MSG00021."""
    del ssin, period
    return None
