"""R-10: each simple type's whiteSpace facet, followed exactly, where libxml2 does not.

XML Schema fixes `whiteSpace="collapse"` for every built-in type but `xs:string` and
`xs:normalizedString`: `<beginDate> 2001-01-01 </beginDate>` is a valid `xs:date`. libxml2
refuses padded `xs:date` and `xs:dateTime` values (it collapses `xs:unsignedShort` and types
that declare the facet, like `common:YearQuarterType`). So the gateway validates and reads a
copy of the request in which the values of collapsing types are collapsed; the request itself
is what the response copies, exactly as sent (R-53). Types that restrict `xs:string` without
the facet (`common:SsinType`, `CbeNumberType`, `TicketType`, `UUIDType`, `LegalContextType`)
preserve white space: they stay strict.

`COLLAPSED` lists the leaves of both requests (and of the blocks a response copies from them)
whose type collapses, by path below the message element; tests/unit/soap/test_whitespace.py
derives the same list from the XSDs.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator

from lxml import etree

from selfemployed_gateway.soap.envelope import RequestEnvelope, open_envelope

COLLAPSED = (
    "informationCustomer/timestampSent",  # xs:dateTime
    "informationCustomer/customerIdentification/sector",  # xs:unsignedShort
    "informationCustomer/customerIdentification/institution",  # xs:unsignedShort
    "informationCBSS/timestampReceive",  # xs:dateTime
    "informationCBSS/timestampReply",  # xs:dateTime
    "criteria/period/beginDate",  # xs:date
    "criteria/period/endDate",  # xs:date
    "criteria/period/beginQuarter",  # common:YearQuarterType (collapse)
    "criteria/period/endQuarter",  # common:YearQuarterType (collapse)
)


# The same paths as one compiled XPath, evaluated in C, where nine ElementPath searches in
# Python cost 70 µs of every request (issue #17). One per thread: an lxml XPath evaluator
# is not meant to be shared between threads.
_XPATHS = threading.local()


def _leaves(message: etree._Element) -> list[etree._Element]:
    xpath: etree.XPath | None = getattr(_XPATHS, "collapsed", None)
    if xpath is None:
        xpath = _XPATHS.collapsed = etree.XPath(" | ".join(COLLAPSED))
    leaves: list[etree._Element] = xpath(message)
    return leaves


def _padded(message: etree._Element) -> Iterator[etree._Element]:
    """The leaves of collapsing types whose value is not collapsed already."""
    for leaf in _leaves(message):
        text = leaf.text
        if len(leaf) == 0 and text is not None and text != " ".join(text.split()):
            yield leaf


def collapse(message: etree._Element) -> None:
    """Collapse, in place, the white space of `message`'s values whose type collapses it."""
    for leaf in list(_padded(message)):
        leaf.text = " ".join((leaf.text or "").split())


def collapsed(request: RequestEnvelope) -> RequestEnvelope:
    """The same request over a copy of its envelope, its values collapsed where their type
    says so: what the schema validates and spyne reads. Nearly every request has nothing to
    collapse: it is then returned as it is, without a copy."""
    if next(_padded(request.payload), None) is None:
        return request
    twin = open_envelope(copy.deepcopy(request.envelope))
    collapse(twin.payload)
    return twin
