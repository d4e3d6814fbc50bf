"""R-10 primary validation: the request payload conforms to the contract's XSD.

Spyne matches children by local name only, so this stage is what really enforces the contract
(R-81: order, optionality, nothing else). A failure is fault MSG00004 with the schema error.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.records import GatewayFault, information

# fieldValue is at most 256 characters (common:InformationType).
_MAX_FIELD_VALUE = 256


def invalid_structure(message: str) -> GatewayFault:
    """Fault MSG00004 carrying `message` as the `error message` information."""
    return GatewayFault(
        codes.INVALID_STRUCTURE,
        information(codes.ERROR_MESSAGE, message[:_MAX_FIELD_VALUE]),
    )


class SchemaValidator:
    """Validates elements against one XSD file.

    An lxml schema keeps its error log on the object, so each thread gets its own instance
    (parsed once per thread) to keep error messages from mixing between requests.
    """

    def __init__(self, xsd: Path, text: bytes | None = None) -> None:
        self.xsd = xsd
        self._text = text
        self._local = threading.local()
        self._schema()  # fail at start-up, not on the first request

    @classmethod
    def for_common_element(cls, common_xsd: Path, element: str, type_name: str) -> SchemaValidator:
        """A validator of one unqualified element of a CommonV3 type (e.g. a copied block)."""
        text = (
            '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:common="http://kszbcss.fgov.be/types/common/v3" '
            'elementFormDefault="unqualified">'
            '<xsd:import namespace="http://kszbcss.fgov.be/types/common/v3" '
            f'schemaLocation="{common_xsd.resolve().as_uri()}"/>'
            f'<xsd:element name="{element}" type="common:{type_name}"/>'
            "</xsd:schema>"
        )
        return cls(common_xsd, text.encode())

    def _schema(self) -> etree.XMLSchema:
        schema: etree.XMLSchema | None = getattr(self._local, "schema", None)
        if schema is None:
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            if self._text is None:
                document = etree.parse(str(self.xsd), parser)
            else:
                document = etree.ElementTree(etree.fromstring(self._text, parser))
            schema = etree.XMLSchema(document)
            self._local.schema = schema
        return schema

    def first_error(self, element: etree._Element) -> str | None:
        """The first schema error of `element`, or None when it is valid."""
        schema = self._schema()
        if schema.validate(element):
            return None
        error = schema.error_log[0]
        return str(error.message)

    def validate(self, element: etree._Element) -> None:
        """R-10: raise MSG00004 with the schema error when `element` is not valid."""
        error = self.first_error(element)
        if error is not None:
            raise invalid_structure(error)
