"""The repository stands alone (issue #14): every rule cited is explained in it, and no
document points outside it. The integration guide tells every answer as codes.py gives it
(issue #16)."""

from __future__ import annotations

import re
from pathlib import Path

from selfemployed_gateway import codes
from tests.support.paths import PROJECT

SPECIFICATION = PROJECT / "docs" / "specification.md"
CITED_IN = ("src", "tests", "docs", "bench", "config")
RULE = re.compile(r"\bR-[0-9]{2}\b")


def cited_files() -> list[Path]:
    files = [PROJECT / "README.md"]
    for folder in CITED_IN:
        for pattern in ("*.py", "*.md", "*.toml", "*.txt"):
            files.extend((PROJECT / folder).rglob(pattern))
    return [f for f in files if f.is_file() and "__pycache__" not in f.parts]


def test_every_cited_rule_is_explained_in_the_repository() -> None:
    text = SPECIFICATION.read_text(encoding="utf-8")
    explained = set(re.findall(r"(?m)^### (R-[0-9]{2}) — \S", text))
    cited = {rule for f in cited_files() for rule in RULE.findall(f.read_text("utf-8"))}
    assert len(explained) >= 60
    assert cited - explained == set(), "cited but not in docs/specification.md"


def test_no_document_points_outside_the_repository() -> None:
    for document in [PROJECT / "README.md", *(PROJECT / "docs").glob("*.md")]:
        text = document.read_text(encoding="utf-8")
        assert "../shared" not in text and "/work/" not in text, document
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if re.match(r"^[a-z]+://", target):
                continue
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(PROJECT), (document, target)
            assert resolved.exists(), (document, target)


def test_no_citation_points_to_a_document_outside_the_repository() -> None:
    """The digest and the French source lived beside the project; their place is taken by
    docs/specification.md and the pinned annex excerpt (tests/contract/annex-10.1.txt)."""
    outside = ("SPEC-" + "DIGEST", "TSS " + "§")  # written apart: this file names them
    for f in cited_files():
        text = f.read_text("utf-8")
        assert not any(name in text for name in outside), f


INTEGRATION = PROJECT / "docs" / "integration.md"


def guide_rows() -> dict[str, list[str]]:
    """The rows of docs/integration.md's answer tables, by their first cell."""
    rows: dict[str, list[str]] = {}
    for line in INTEGRATION.read_text(encoding="utf-8").splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_the_integration_guide_tells_every_status_with_its_exact_text() -> None:
    """docs/integration.md, section 4: each status of codes.py, its value and description."""
    rows = guide_rows()
    for status in codes.ALL_STATUS_CODES:
        assert status.code in rows, status.code
        value, description, advice = rows[status.code]
        assert (value, description) == (status.value.value, status.description)
        assert advice, status.code


def test_the_integration_guide_tells_every_fault_with_its_exact_text() -> None:
    rows = guide_rows()
    for fault in codes.ALL_FAULT_CODES:
        assert fault.code in rows, fault.code
        faultcode, diagnostic, advice = rows[fault.code]
        assert faultcode == fault.origin.value, fault.code
        assert diagnostic == fault.diagnostic, fault.code
        assert advice, fault.code
    faultcode, diagnostic, _ = rows["(none)"]
    assert (faultcode, diagnostic) == ("soapenv:MustUnderstand", codes.MUST_UNDERSTAND.diagnostic)
