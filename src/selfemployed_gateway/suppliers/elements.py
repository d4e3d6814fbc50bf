"""Building and reading the elements of INASTI's messages.

Both protocols qualify the top element of a message and leave its children unqualified;
these helpers write and read them for each protocol's module. Values are set as text, never
formatted into markup: lxml escapes them and refuses characters XML cannot carry.

Children are looked up with `iterchildren(name)`, which matches the same unqualified name as
`find(name)` but in C: `find` goes through lxml's ElementPath in Python, and those lookups were
half the time of reading a career (issue #17).
"""

from __future__ import annotations

from lxml import etree

from selfemployed_gateway.suppliers.soap11 import ProtocolError


def top(namespace: str, prefix: str, local_name: str) -> etree._Element:
    """The qualified top element of a message."""
    element: etree._Element = etree.Element(
        f"{{{namespace}}}{local_name}", nsmap={prefix: namespace}
    )
    return element


def sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    """An unqualified child of `parent`, with `text` when given."""
    child: etree._Element = etree.SubElement(parent, name)
    if text is not None:
        child.text = text
    return child


def first(parent: etree._Element, name: str) -> etree._Element | None:
    """The first child of `parent` named `name` (unqualified), if any."""
    for found in parent.iterchildren(name):
        return found
    return None


def child(parent: etree._Element, name: str) -> etree._Element:
    found = first(parent, name)
    if found is None:
        raise ProtocolError(f"{name} missing in {etree.QName(parent).localname}")
    return found


def text(parent: etree._Element, name: str) -> str:
    return child(parent, name).text or ""


def optional_text(parent: etree._Element, name: str) -> str | None:
    found = first(parent, name)
    return None if found is None else (found.text or "")
