"""The supplier path under load and faults (R-22, R-65, R-70, R-71): it never wedges.

A call cut at the time budget, cancelled or failed leaves its connection unusable
(encode/httpcore#1093); such a connection must be discarded, never handed to the next call.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.e2e.conftest import CallerFactory, GatewayFactory
from tests.support.soap import career_request, customer, fault, payload, status

ONSS = customer(sector=21, institution=0)
CONTEXT = "SOCIAL_INSPECTION:INVESTIGATION"
SLOW = "64082006457"  # the simulator answers him after 30 s: every call is cut at the budget
MULTI = "65031510159"


def reason(response: httpx.Response) -> str:
    if response.status_code == 200:
        return str(status(payload(response.content))["code"])
    return str(fault(response.content)["details"][0]["reasonCode"])  # type: ignore[index]


def test_calls_cut_at_the_budget_do_not_poison_the_next_ones(
    gateway_with: GatewayFactory,
) -> None:
    """A burst of calls cut at the 1 s budget, then ordinary calls from another client: every
    one DATA_FOUND, within the budget (before the fix, poisoned connections answered
    MSG00002 'No answer from supplier within the time budget' until a restart)."""
    callers: CallerFactory = gateway_with(env={"SEG_SUPPLIER_TIMEOUT": "1"})
    slow = callers("onss-inspection")
    with ThreadPoolExecutor(200) as pool:
        cut = list(pool.map(lambda _: slow.post(career_request(ONSS, CONTEXT, SLOW)), range(500)))
    assert {reason(r) for r in cut} == {"MSG00002"}
    other = callers("riziv-medical")
    riziv = customer(cbe="0234567873")
    with ThreadPoolExecutor(16) as pool:
        after = list(
            pool.map(
                lambda _: other.post(
                    career_request(riziv, "HEALTH_INSURANCE:INCAPACITY", MULTI, "2000-01-01")
                ),
                range(64),
            )
        )
    assert [reason(r) for r in after] == ["MSG00000"] * 64
