"""R-16 … R-19, R-52: the NISS is well formed, exists and is not replaced.

Not yet implemented: issue #3 ("Business rules"). Until then every NISS is active.
"""

from __future__ import annotations

from selfemployed_gateway.records import Reply, SsinStatus


def check_ssin(ssin: str) -> SsinStatus | Reply:
    """No-op stage (issue #3): will answer MSG00011, MSG00005 or MSG00006."""
    return SsinStatus(ssin=ssin)
