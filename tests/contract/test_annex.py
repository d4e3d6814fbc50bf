"""R-13 and every other text of the annex: `codes.py` against the source, character by character.

`annex-10.1.txt` beside this file is the annex of the source specification
(SelfEmployedV2-TSS-fr.txt, from "10.1.1 Status Codes" to its end), unmodified: its SHA-256 is
pinned, and where the source is present beside the project it must end with this excerpt.
Texts wrap over lines in the source; both sides are compared with white space collapsed, and
each text must be followed by white space there: a dropped or added final period fails.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.stages import dates

ANNEX = Path(__file__).resolve().parent / "annex-10.1.txt"
ANNEX_SHA256 = "c25ed1581f6d6490fd639845fcbe5bdc969bc1338fa87f76255e998aba165427"


def collapsed(text: str) -> str:
    return " " + " ".join(text.split()) + " "


ANNEX_TEXT = collapsed(ANNEX.read_text(encoding="utf-8"))

# Every fieldName/fieldValue pair the annex lists, as the gateway writes it.
INFORMATION = [
    (codes.REASON, codes.REASON_NO_DATA_FOR_PERSON),
    (codes.REASON, codes.REASON_NO_DATA_FOR_PERIOD),
    (codes.INVALID_PERIOD, dates.BEGIN_TOO_EARLY),
    (codes.INVALID_PERIOD, dates.END_BEFORE_BEGIN),
    (codes.INVALID_PERIOD, dates.DATE_IN_FUTURE),
    (codes.INVALID_QUARTER_PERIOD, dates.QUARTER_TOO_OLD),
    (codes.INVALID_QUARTER_PERIOD, dates.END_QUARTER_BEFORE_BEGIN),
    (codes.INVALID_QUARTER_PERIOD, dates.QUARTER_IN_FUTURE),
    (codes.DETAILS, codes.NOT_INTEGRATED_DETAILS),
    (codes.DETAILS, codes.SUPPLIER_UNEXPECTED_RETURN_CODE),
    (codes.DETAILS, codes.SUPPLIER_UNEXPECTED_RESPONSE),
    (codes.DETAILS, codes.SUPPLIER_NO_L302_ELEMENT),
    (codes.DETAILS, codes.SUPPLIER_L302_SOAP_FAULT),
    (codes.DETAIL, codes.AUTHORIZATION_INCONSISTENT),
    (codes.ERROR_MESSAGE, "[the schema validation error]"),
    (codes.OPERATION_NOT_SUPPORTED, "*operation*"),
]


def test_the_excerpt_is_the_source_annex_unmodified() -> None:
    data = ANNEX.read_bytes()
    # The digest of the end of the specification's text (annex 10.1), verbatim.
    assert hashlib.sha256(data).hexdigest() == ANNEX_SHA256


@pytest.mark.parametrize("status", codes.ALL_STATUS_CODES, ids=lambda s: s.code)
def test_status_code_texts(status: codes.StatusCode) -> None:
    """10.1.1: code, value and description, as one row of the annex."""
    assert f" {status.code} {status.value.value} {status.description} " in ANNEX_TEXT


@pytest.mark.parametrize("fault", codes.ALL_FAULT_CODES, ids=lambda f: f.code)
def test_fault_code_texts(fault: codes.FaultCode) -> None:
    """10.1.2: reason code, severity, faultcode and faultstring/diagnostic."""
    row = f" {fault.code} {fault.severity.value} {fault.origin.value} {fault.diagnostic} "
    assert row in ANNEX_TEXT
    assert fault.faultstring == fault.diagnostic


@pytest.mark.parametrize(("name", "value"), INFORMATION, ids=lambda x: str(x)[:40])
def test_information_texts(name: str, value: str) -> None:
    assert f" {name} {value} " in ANNEX_TEXT


def test_msg00013_ends_with_its_period() -> None:
    """R-13, as the annex writes it (the digest's quote had dropped the period)."""
    assert codes.ACCESS_NOT_ALLOWED.description == (
        "Access to this operation is not allowed with the given legalcontext and credentials."
    )
