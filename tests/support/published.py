"""Validate the common blocks of real messages against BCSS's PUBLISHED CommonV3.xsd (R-07).

The project serves BCSS's file unmodified (`xsd/CommonV3.xsd`): its SHA-256 is pinned here,
the digest of the file BCSS publishes, so the check needs nothing outside the repository. A
tiny wrapper schema imports it and declares one element per common type; each block is
re-wrapped under its type's element.
"""

from __future__ import annotations

import copy
import hashlib
import tempfile
from pathlib import Path

from lxml import etree

COMMON_NS = "http://kszbcss.fgov.be/types/common/v3"
WRAPPER_NS = "urn:selfemployed-gateway:test:published-common"
BLOCKS = {
    "informationCustomer": "InformationCustomerType",
    "informationCBSS": "InformationCBSSType",
    "status": "StatusType",
    "ssin": "SsinWithCanceledAndReplacesStatusType",
    "dataFilters": "DataFiltersType",
}
FAULT_TYPE = "CBSSFaultType"


#: SHA-256 of CommonV3.xsd as BCSS publishes it (kszbcss.fgov.be, types/common/v3).
PUBLISHED_COMMON_SHA256 = "798b5eb19c2720f8b3d20f768d6616b806bfd7460c962e7be6817464a3471129"


def published_common_xsd() -> Path:
    """The project's copy of the published CommonV3.xsd, proven unmodified by its digest."""
    path = Path(__file__).resolve().parents[2] / "xsd" / "CommonV3.xsd"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != PUBLISHED_COMMON_SHA256:
        raise AssertionError(f"{path} is not BCSS's published CommonV3.xsd (sha256 {digest})")
    return path


class PublishedCommon:
    def __init__(self) -> None:
        types = sorted({*BLOCKS.values(), FAULT_TYPE})
        elements = "".join(f'<xsd:element name="{t}" type="common:{t}"/>' for t in types)
        text = (
            '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            f'xmlns:common="{COMMON_NS}" targetNamespace="{WRAPPER_NS}" '
            'elementFormDefault="unqualified">'
            f'<xsd:import namespace="{COMMON_NS}" '
            f'schemaLocation="{published_common_xsd().as_uri()}"/>{elements}</xsd:schema>'
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "wrapper.xsd"
            path.write_text(text, encoding="utf-8")
            self.schema = etree.XMLSchema(etree.parse(str(path)))

    def errors(self, payload: etree._Element) -> dict[str, str]:
        """Type name → first error, for every common block of a response or fault detail."""
        found: dict[str, str] = {}
        for type_name, block in self.blocks(payload):
            wrapped = etree.Element(f"{{{WRAPPER_NS}}}{type_name}", attrib=dict(block.attrib))
            wrapped.text = block.text
            for child in block:
                wrapped.append(copy.deepcopy(child))
            if not self.schema.validate(wrapped):
                found[type_name] = str(self.schema.error_log[0].message)
        return found

    @staticmethod
    def blocks(payload: etree._Element) -> list[tuple[str, etree._Element]]:
        if etree.QName(payload).localname.endswith("Fault"):
            return [(FAULT_TYPE, payload)]
        return [(BLOCKS[c.tag], c) for c in payload if isinstance(c.tag, str) and c.tag in BLOCKS]
