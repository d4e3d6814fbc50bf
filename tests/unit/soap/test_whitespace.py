"""R-10: which request values collapse white space (soap/whitespace.py), derived from the XSDs.

The walk below reads the contract's schemas (element declarations, complex types with their
extensions, simple types down to their XML Schema built-in) and computes each leaf's
whiteSpace facet: `collapse` for every built-in but xs:string and xs:normalizedString, unless
a restriction on the way declares its own. `COLLAPSED` must be exactly the collapsing leaves.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from selfemployed_gateway.soap.whitespace import COLLAPSED, collapse
from tests.support.paths import PROJECT

XS = "http://www.w3.org/2001/XMLSchema"
SERVICE = "http://kszbcss.fgov.be/intf/SelfEmployedService/v2"
NOT_COLLAPSED = {"string": "preserve", "normalizedString": "replace"}


def _schemas() -> dict[str, etree._Element]:
    found: dict[str, etree._Element] = {}
    for path in sorted((PROJECT / "xsd").glob("*.xsd")):
        root = etree.parse(str(path)).getroot()
        found[root.get("targetNamespace", "")] = root
    return found


SCHEMAS = _schemas()


def _qname(context: etree._Element, text: str) -> tuple[str, str]:
    prefix, _, local = text.rpartition(":")
    return context.nsmap.get(prefix or None, ""), local


def _named(kind: str, qname: tuple[str, str]) -> etree._Element:
    namespace, local = qname
    (found,) = SCHEMAS[namespace].findall(f"{{{XS}}}{kind}[@name='{local}']")
    return found


def _white_space(simple: etree._Element) -> str:
    """The whiteSpace facet of a simpleType element (a restriction, possibly of a builtin)."""
    restriction = simple.find(f"{{{XS}}}restriction")
    assert restriction is not None
    facet = restriction.find(f"{{{XS}}}whiteSpace")
    if facet is not None:
        return str(facet.get("value"))
    return _type_white_space(restriction, str(restriction.get("base")))


def _type_white_space(context: etree._Element, type_name: str) -> str:
    namespace, local = _qname(context, type_name)
    if namespace == XS:
        return NOT_COLLAPSED.get(local, "collapse")
    return _white_space(_named("simpleType", (namespace, local)))


def _particles(complex_type: etree._Element) -> Iterator[etree._Element]:
    """The element declarations of a complexType, its base's first (extension)."""
    extension = complex_type.find(f"{{{XS}}}complexContent/{{{XS}}}extension")
    if extension is not None:
        yield from _particles(_named("complexType", _qname(extension, str(extension.get("base")))))
        container = extension
    else:
        container = complex_type
    yield from container.iter(f"{{{XS}}}element")


def _leaves(element: etree._Element, path: str) -> Iterator[tuple[str, str]]:
    """(path, whiteSpace) of every simple-typed leaf below `element`."""
    type_name = element.get("type")
    inline = element.find(f"{{{XS}}}simpleType")
    if inline is not None:
        yield path, _white_space(inline)
        return
    assert type_name is not None, path
    namespace, local = _qname(element, type_name)
    if (
        namespace == XS
        or SCHEMAS[namespace].find(f"{{{XS}}}simpleType[@name='{local}']") is not None
    ):
        yield path, _type_white_space(element, type_name)
        return
    for child in _particles(_named("complexType", (namespace, local))):
        yield from _leaves(child, f"{path}/{child.get('name')}" if path else str(child.get("name")))


def request_leaves() -> dict[str, str]:
    found: dict[str, str] = {}
    for operation in ("consultCareerRequest", "consultContributionsRequest"):
        declaration = _named("element", (SERVICE, operation))
        found.update(_leaves(declaration, ""))
    return found


def test_the_walk_reads_the_contract() -> None:
    leaves = request_leaves()
    assert leaves["criteria/ssin"] == "preserve"  # common:SsinType restricts xs:string
    assert leaves["criteria/period/beginDate"] == "collapse"  # xs:date
    assert leaves["criteria/period/beginQuarter"] == "collapse"  # declared by YearQuarterType
    assert leaves["legalContext"] == "preserve"


def test_collapsed_is_exactly_the_collapsing_leaves_of_both_requests() -> None:
    leaves = request_leaves()
    assert sorted(COLLAPSED) == sorted(
        path for path, facet in leaves.items() if facet == "collapse"
    )
    assert "replace" not in leaves.values()  # no xs:normalizedString in the requests


def test_collapse_touches_only_those_leaves() -> None:
    message = etree.fromstring(
        "<m><legalContext> X </legalContext><criteria><ssin> 1 </ssin>"
        "<period><beginDate>\n 2000-01-01\t</beginDate></period></criteria></m>"
    )
    collapse(message)
    assert message.findtext("legalContext") == " X "
    assert message.findtext("criteria/ssin") == " 1 "
    assert message.findtext("criteria/period/beginDate") == "2000-01-01"
