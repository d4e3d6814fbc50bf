"""The large cases of the hostile corpus, generated instead of committed (R-10, R-26).

The small cases are files beside this one, one per case, the body bytes exactly as sent
(`known-request.xml` is the valid DATA_FOUND request they start from). The large ones are
built here from that same request, so that the repository does not hold megabytes:

    python -m tests.hostile.generate OUT_DIR   # writes every generated case into OUT_DIR

tests/e2e/test_hostile.py says what each case must be answered (see the README here).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
KNOWN_REQUEST = CORPUS / "known-request.xml"
DEFAULT_LIMIT = 64 * 1024  # gateway.max_request_bytes by default
_LEGAL_CONTEXT = b"<legalContext>PCSA:SOCIAL_INQUIRY</legalContext>"
_DECLARATION_END = b"?>\n"


def known_request() -> bytes:
    return KNOWN_REQUEST.read_bytes()


def _with_doctype(internal_subset: bytes, body: bytes) -> bytes:
    declaration, _, envelope = body.partition(_DECLARATION_END)
    return (
        declaration
        + _DECLARATION_END
        + b"<!DOCTYPE soapenv:Envelope [\n"
        + internal_subset
        + b"\n]>\n"
        + envelope
    )


def quadratic_blowup() -> bytes:
    """One 30,000-character entity referenced 10,000 times (300 MB if it were expanded),
    under the body limit."""
    entity = b'<!ENTITY a "' + b"a" * 30_000 + b'">'
    references = b"<legalContext>" + b"&a;" * 10_000 + b"</legalContext>"
    return _with_doctype(entity, known_request().replace(_LEGAL_CONTEXT, references))


def deep_nesting(depth: int = 300) -> bytes:
    """300 nested elements inside the criteria: deeper than libxml2's 256."""
    return known_request().replace(b"<criteria>", b"<criteria>" + b"<a>" * depth + b"</a>" * depth)


def many_siblings(count: int = 5_000) -> bytes:
    """5,000 empty sibling elements inside the request element."""
    return known_request().replace(_LEGAL_CONTEXT, _LEGAL_CONTEXT + b"<x/>" * count)


def huge_attribute(size: int = 60_000) -> bytes:
    """A 60,000-character attribute value (under the 64 KiB body limit)."""
    return known_request().replace(b"<criteria>", b'<criteria note="' + b"A" * size + b'">')


def header_element_bomb(count: int = 10_000) -> bytes:
    """10,000 empty elements in the SOAP Header."""
    return known_request().replace(
        b"<soapenv:Body>",
        b"<soapenv:Header>" + b"<a/>" * count + b"</soapenv:Header><soapenv:Body>",
    )


def large_header(blocks: int = 60, size: int = 400) -> bytes:
    """A Header of 60 blocks with a 400-character attribute each (24 KB)."""
    block = b'<h:b xmlns:h="urn:x" v="' + b"v" * size + b'"/>'
    return known_request().replace(
        b"<soapenv:Body>", b"<soapenv:Header>" + block * blocks + b"</soapenv:Header><soapenv:Body>"
    )


def long_text(size: int = 20_000) -> bytes:
    """A 20,000-character legal context (a text far over any real value)."""
    return known_request().replace(
        _LEGAL_CONTEXT, b"<legalContext>" + b"L" * size + b"</legalContext>"
    )


def over_limit(limit: int = DEFAULT_LIMIT) -> bytes:
    """The known request padded with whitespace to 1 KiB more than the body limit."""
    body = known_request()
    padding = limit + 1024 - len(body)
    return body.replace(b"<soapenv:Body>", b"<soapenv:Body>" + b" " * padding, 1)


GENERATED: dict[str, Callable[[], bytes]] = {
    "quadratic-blowup.xml": quadratic_blowup,
    "deep-nesting.xml": deep_nesting,
    "many-siblings.xml": many_siblings,
    "huge-attribute.xml": huge_attribute,
    "header-element-bomb.xml": header_element_bomb,
    "large-header.xml": large_header,
    "long-text.xml": long_text,
    "over-limit.xml": over_limit,
}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.hostile.generate OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name, build in GENERATED.items():
        (out / name).write_bytes(build())
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
