"""XML from outside, read safely, and the XSDs it is checked against.

`hardened_parser` is the one parser for every document that comes from outside: requests of
clients (soap/envelope.py), answers of suppliers (suppliers/), stored messages (audit). What
was verified, and why each option is there: see soap/envelope.py.

`XmlSchema` is the one XSD helper: a schema of our own (the contract's, a supplier
protocol's), compiled once per thread, that answers the first error of an element.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lxml import etree

from selfemployed_gateway.errors import ExternalResourceRefused
from selfemployed_gateway.namespaces import COMMON, XSD

__all__ = ["ExternalResourceRefused", "SchemaError", "XmlSchema", "hardened_parser"]


class _NoExternalResources(etree.Resolver):  # type: ignore[misc]  # lxml: untyped
    """Refuses every external resource: lxml would otherwise fall back to libxml2's loader,
    which reads local files even with `load_dtd=False` (see soap/envelope.py)."""

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> None:
        raise ExternalResourceRefused(system_url or public_id or "?")


def hardened_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    """A parser that never expands entities, loads a DTD, reads a file or touches the network
    (R-10). One per document: lxml parsers are not thread-safe."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
        strip_cdata=True,
        collect_ids=False,
        decompress=False,
        remove_blank_text=remove_blank_text,
    )
    parser.resolvers.add(_NoExternalResources())
    return parser


@dataclass(frozen=True)
class SchemaError:
    """The first error of an element against a schema."""

    message: str
    line: int

    def __str__(self) -> str:
        """As lxml's `DocumentInvalid` words it: the message, then its line when known."""
        return f"{self.message}, line {self.line}" if self.line > 0 else self.message


class XmlSchema:
    """One XSD of ours, compiled once per thread.

    An lxml schema keeps its error log on the object, so each thread gets its own instance to
    keep error messages from mixing between requests. The XSD is trusted (it ships with the
    project) and may import its siblings by file; it is parsed without network access. It is
    compiled once when built, so that a missing or broken file fails at start-up.
    """

    def __init__(self, load: Callable[[], etree._ElementTree], name: str) -> None:
        self._load = load
        self.name = name
        self._local = threading.local()
        self.schema()

    @classmethod
    def from_file(cls, path: Path) -> XmlSchema:
        """A schema file; its `xsd:import`s are read beside it."""
        return cls(lambda: etree.parse(str(path), _trusted_parser()), path.name)

    @classmethod
    def from_package(cls, package: str, *parts: str) -> XmlSchema:
        """A schema shipped as package data (e.g. a supplier protocol's XSD)."""
        text = resources.files(package).joinpath(*parts).read_bytes()
        return cls(lambda: etree.ElementTree(etree.fromstring(text, _trusted_parser())), parts[-1])

    @classmethod
    def for_common_element(cls, common_xsd: Path, element: str, type_name: str) -> XmlSchema:
        """A schema of one unqualified element of a CommonV3 type (e.g. a copied block)."""
        text = (
            f'<xsd:schema xmlns:xsd="{XSD}" xmlns:common="{COMMON}" '
            'elementFormDefault="unqualified">'
            f'<xsd:import namespace="{COMMON}" '
            f'schemaLocation="{common_xsd.resolve().as_uri()}"/>'
            f'<xsd:element name="{element}" type="common:{type_name}"/>'
            "</xsd:schema>"
        ).encode()
        return cls(
            lambda: etree.ElementTree(etree.fromstring(text, _trusted_parser())),
            f"{type_name} of {common_xsd.name}",
        )

    def schema(self) -> etree.XMLSchema:
        schema: etree.XMLSchema | None = getattr(self._local, "schema", None)
        if schema is None:
            schema = etree.XMLSchema(self._load())
            self._local.schema = schema
        return schema

    def first_error(self, element: etree._Element) -> SchemaError | None:
        """The first error of `element` against the schema, or None when it is valid."""
        schema = self.schema()
        if schema.validate(element):
            return None
        error = schema.error_log[0]
        return SchemaError(str(error.message), int(error.line))


def _trusted_parser() -> etree.XMLParser:
    """For the project's own schema files: no entities, no network; sibling files allowed."""
    return etree.XMLParser(resolve_entities=False, no_network=True)
