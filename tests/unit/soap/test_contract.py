"""R-07: the served contract points back at the server (soap/contract.py)."""

from __future__ import annotations

from lxml import etree

from selfemployed_gateway.soap.contract import XSD_FILES, Contract
from tests.unit.conftest import PROJECT

URL = "https://gateway.example:4520/SelfEmployedService/v2/consult"
XSD = "http://www.w3.org/2001/XMLSchema"


def contract() -> Contract:
    return Contract.load(PROJECT / "wsdl" / "SelfEmployedV2.wsdl", PROJECT / "xsd")


def test_wsdl_address_and_imports_point_at_the_server() -> None:
    document = etree.fromstring(contract().wsdl_for(URL))
    (address,) = document.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == URL
    imports = [e.get("schemaLocation") for e in document.iter(f"{{{XSD}}}import")]
    assert imports == [f"{URL}?xsd=SelfEmployedV2.xsd"]


def test_every_schema_is_served_with_rewritten_imports() -> None:
    served = contract()
    for name in XSD_FILES:
        body = served.xsd_for(name, URL)
        assert body is not None
        for element in etree.fromstring(body).iter(f"{{{XSD}}}import"):
            location = element.get("schemaLocation") or ""
            assert location.startswith(f"{URL}?xsd=")
            assert location.removeprefix(f"{URL}?xsd=") in XSD_FILES


def test_unknown_schema_names_are_not_served() -> None:
    served = contract()
    for name in ("../pyproject.toml", "/etc/passwd", "SelfEmployedV2.wsdl", ""):
        assert served.xsd_for(name, URL) is None


def test_the_file_itself_is_not_modified() -> None:
    served = contract()
    served.wsdl_for(URL)
    assert b"?xsd=" not in etree.tostring(served.wsdl)
