"""The element helpers of both INASTI protocols: `first` and `Children` find the same child."""

from __future__ import annotations

import pytest
from lxml import etree

from selfemployed_gateway.suppliers.elements import Children, first
from selfemployed_gateway.suppliers.soap11 import ProtocolError

SEGMENT = etree.fromstring(
    b'<inasti:careerSegment xmlns:inasti="urn:x" xmlns:other="urn:other">'
    b"<!-- a comment --><period><beginDate>2000-01-01</beginDate></period>"
    b"<other:code>qualified</other:code><code>first</code><code>second</code><empty/>"
    b"</inasti:careerSegment>"
)


@pytest.mark.parametrize("name", ["period", "code", "empty", "absent", "beginDate"])
def test_children_find_what_first_finds(name: str) -> None:
    """The first child of that unqualified name; a qualified child, a comment or a
    grandchild never counts."""
    assert Children(SEGMENT).first(name) is first(SEGMENT, name)


def test_children_texts_and_a_missing_child() -> None:
    children = Children(SEGMENT)
    assert children.text("code") == "first"
    assert (children.text("empty"), children.optional_text("empty")) == ("", "")
    assert children.optional_text("absent") is None
    with pytest.raises(ProtocolError, match=r"^absent missing in careerSegment$"):
        children.child("absent")
