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

from selfemployed_gateway.errors import ExternalResourceRefused, GatewayError
from selfemployed_gateway.namespaces import COMMON, XSD

__all__ = [
    "ExternalResourceRefused",
    "SchemaError",
    "XmlLimitExceeded",
    "XmlLimits",
    "XmlSchema",
    "hardened_parser",
    "parse_limited",
    "thread_parser",
]

# A document is fed to the parser this many bytes at a time; the limits are checked after
# each piece, so an element bomb costs at most one piece of parsing.
_FEED_BYTES = 8 * 1024


class _NoExternalResources(etree.Resolver):  # type: ignore[misc]  # lxml: untyped
    """Refuses every external resource: lxml would otherwise fall back to libxml2's loader,
    which reads local files even with `load_dtd=False` (see soap/envelope.py)."""

    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> None:
        raise ExternalResourceRefused(system_url or public_id or "?")


_HARDENED: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    "remove_pis": True,
    "remove_comments": True,
    "strip_cdata": True,
    "collect_ids": False,
    "decompress": False,
}


def hardened_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    """A parser that never expands entities, loads a DTD, reads a file or touches the network
    (R-10). Not thread-safe (lxml's parsers are not): one per document, or `thread_parser`."""
    parser = etree.XMLParser(**_HARDENED, remove_blank_text=remove_blank_text)
    parser.resolvers.add(_NoExternalResources())
    return parser


_parsers = threading.local()


def thread_parser() -> etree.XMLParser:
    """This thread's `hardened_parser()`, made once: making one per document cost 8 of the
    46 µs of parsing an INASTI answer (issue #17). A refused or broken document leaves it
    usable for the next."""
    parser: etree.XMLParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = hardened_parser()
    return parser


class XmlLimitExceeded(GatewayError):
    """A document over one of the `XmlLimits`; the message names the limit."""


@dataclass(frozen=True)
class XmlLimits:
    """XML threat limits (CXF's StaxUtils, WSO2's XML threat protection), checked while the
    document is parsed. A real request has ~25 elements, a few attributes, short texts and at
    most a WS-Addressing header."""

    elements: int = 512
    children: int = 64  # per element
    attributes: int = 16  # per element
    attribute_length: int = 1024
    text_length: int = 4096  # an element's text, or the text after it
    header_bytes: int = 16 * 1024  # names, attributes and texts inside soapenv:Header


def parse_limited(data: bytes, limits: XmlLimits, header_tag: str) -> etree._Element:
    """The root element of `data` read by the hardened parser, or `XmlLimitExceeded` as soon
    as the part read so far breaks a limit (`header_tag`: the Clark name of the Header whose
    content `header_bytes` bounds). Syntax errors raise lxml's `XMLSyntaxError`."""
    parser = etree.XMLPullParser(events=("start", "end"), **_HARDENED)
    parser.resolvers.add(_NoExternalResources())
    count = _Count(limits, header_tag)
    for offset in range(0, len(data), _FEED_BYTES):
        parser.feed(data[offset : offset + _FEED_BYTES])
        count.events(parser.read_events())
    root: etree._Element = parser.close()
    count.events(parser.read_events())
    return root


class _Count:
    def __init__(self, limits: XmlLimits, header_tag: str) -> None:
        self.limits = limits
        self.header_tag = header_tag
        self.elements = 0
        self.header_bytes = 0
        self.in_header = 0
        self.children: list[int] = []

    def events(self, events: object) -> None:
        # The checks of each event in the order they are stated, with their values in
        # locals: this loop runs for every element of every request (3 µs an element when
        # written with attribute proxies and helper calls, issue #17).
        limits = self.limits
        children = self.children
        text_length = limits.text_length
        header_tag = self.header_tag
        for event, element in events:  # type: ignore[attr-defined]
            if event == "start":
                self.elements += 1
                if self.elements > limits.elements:
                    raise XmlLimitExceeded(f"more than {limits.elements} elements")
                if children:
                    children[-1] += 1
                    if children[-1] > limits.children:
                        raise XmlLimitExceeded(
                            f"an element with more than {limits.children} children"
                        )
                children.append(0)
                previous = element.getprevious()  # its tail is complete now
                if previous is not None:
                    tail = previous.tail
                    if tail is not None and len(tail) > text_length:
                        raise self._text_too_long()
                values = element.values()  # the attributes' values
                if values:
                    if len(values) > limits.attributes:
                        raise XmlLimitExceeded(
                            f"an element with more than {limits.attributes} attributes"
                        )
                    for value in values:
                        if len(value) > limits.attribute_length:
                            raise XmlLimitExceeded(
                                f"an attribute longer than {limits.attribute_length} characters"
                            )
                tag = element.tag
                if tag == header_tag:
                    self.in_header += 1
                if self.in_header:
                    self._header(len(str(tag)) + sum(map(len, values)))
            else:
                children.pop()
                text = element.text
                if text is not None and len(text) > text_length:
                    raise self._text_too_long()
                last_tail = element[-1].tail if len(element) else None
                if last_tail is not None and len(last_tail) > text_length:
                    raise self._text_too_long()
                if self.in_header:
                    self._header(len(text or "") + len(last_tail or ""))
                if element.tag == header_tag:
                    self.in_header -= 1

    def _text_too_long(self) -> XmlLimitExceeded:
        return XmlLimitExceeded(f"a text longer than {self.limits.text_length} characters")

    def _header(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > self.limits.header_bytes:
            raise XmlLimitExceeded(f"a Header larger than {self.limits.header_bytes} bytes")


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
