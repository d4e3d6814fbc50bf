"""The one hardened XML parser of the project, for everything that comes from outside:
requests of clients (soap/envelope.py), answers of suppliers (suppliers/), stored messages
(audit). What was verified, and why each option is there: see soap/envelope.py."""

from __future__ import annotations

from lxml import etree


class ExternalResourceRefused(Exception):
    """A document asked the parser to load an external resource (DTD, entity)."""


class _NoExternalResources(etree.Resolver):  # type: ignore[misc]  # lxml: untyped
    """Refuses every external resource: lxml would otherwise fall back to libxml2's loader,
    which reads local files even with `load_dtd=False` (see the module docstring)."""

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
