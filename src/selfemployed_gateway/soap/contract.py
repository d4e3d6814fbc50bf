"""The served contract: the hand-written WSDL and XSDs, with locations pointing back here.

`GET …?wsdl` returns `wsdl/SelfEmployedV2.wsdl` with its soap:address set to the URL it was
fetched from, and every schemaLocation rewritten to `?xsd=<file>` so that zeep and SoapUI
can import the whole contract over HTTP from the same server (R-07).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from selfemployed_gateway.namespaces import WSDL_SOAP, XSD

XSD_FILES = (
    "SelfEmployedV2.xsd",
    "SelfEmployedTypesV2.xsd",
    "SelfEmployedCommonTypesV1.xsd",
    "CommonV3.xsd",
)


@dataclass(frozen=True)
class Contract:
    """The contract files, read once at start-up."""

    wsdl: etree._ElementTree
    schemas: dict[str, etree._ElementTree]
    xsd_dir: Path

    @classmethod
    def load(cls, wsdl: Path, xsd_dir: Path) -> Contract:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        return cls(
            wsdl=etree.parse(str(wsdl), parser),
            schemas={name: etree.parse(str(xsd_dir / name), parser) for name in XSD_FILES},
            xsd_dir=xsd_dir,
        )

    @property
    def service_xsd(self) -> Path:
        return self.xsd_dir / XSD_FILES[0]

    @property
    def common_xsd(self) -> Path:
        return self.xsd_dir / "CommonV3.xsd"

    def wsdl_for(self, endpoint_url: str) -> bytes:
        """The WSDL as served from `endpoint_url` (scheme://host:port/path)."""
        document = _copy(self.wsdl)
        for address in document.iter(f"{{{WSDL_SOAP}}}address"):
            address.set("location", endpoint_url)
        _point_imports_at(document, endpoint_url)
        return _serialise(document)

    def xsd_for(self, name: str, endpoint_url: str) -> bytes | None:
        """One schema of the contract, or None for a name that is not one of ours."""
        tree = self.schemas.get(name)
        if tree is None:
            return None
        document = _copy(tree)
        _point_imports_at(document, endpoint_url)
        return _serialise(document)


def _copy(tree: etree._ElementTree) -> etree._ElementTree:
    return etree.ElementTree(etree.fromstring(etree.tostring(tree)))


def _point_imports_at(document: etree._ElementTree, endpoint_url: str) -> None:
    for tag in ("import", "include"):
        for element in document.iter(f"{{{XSD}}}{tag}"):
            location = element.get("schemaLocation")
            if location:
                element.set("schemaLocation", f"{endpoint_url}?xsd={Path(location).name}")


def _serialise(document: etree._ElementTree) -> bytes:
    return bytes(etree.tostring(document, xml_declaration=True, encoding="UTF-8"))
