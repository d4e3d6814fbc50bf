"""L302 test helpers (transitional phase, R-60, R-63): hand-written documents, the adapter's
settings, the dataset's people; the fixtures `calm` and `supplier_with` are in
tests/unit/conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from selfemployed_gateway.dataset import Dataset, LocalizedTexts
from selfemployed_gateway.records import (
    Career,
    CareerAnswer,
    CareerSegment,
    CodedValue,
    DatePeriod,
    Description,
    Language,
    SupplierOutcome,
)
from selfemployed_gateway.settings import SupplierSettings
from selfemployed_gateway.simulator.l302 import answer_l302
from selfemployed_gateway.suppliers.l302.adapter import L302Supplier
from selfemployed_gateway.suppliers.l302.mapping import (
    load_l302_mapping,
)
from tests.support.mock_supplier import Handler, serving
from tests.support.paths import PROJECT

ROOT = PROJECT
MAPPING_FILE = ROOT / "config" / "l302-mapping.toml"
MAPPING = load_l302_mapping(MAPPING_FILE)
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo("Europe/Brussels"))
URL = "http://inasti.test/inasti/L302"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
L302_NS = "urn:be:fgov:inasti:l302:v1"
WHOLE_CAREER = DatePeriod(begin=date(1956, 7, 1))
YEAR_2000 = DatePeriod(begin=date(2000, 1, 1), end=date(2000, 12, 31))

# People of the reference dataset.
MULTI = "65031510159"  # fund 010 (1990-1999, 2000-01..06 with equality 130), then fund 002
AIDANT = "72060120261"  # a segment of quality 200 (contribution 107, letter G)
INVESTIGATED = "85111115024"
SOAP_FAULT = "93030322213"
GARBAGE = "47061501777"
SLOW = "64082006457"
EARLY = "55121231183"  # career 1990-1995 only
NOBODY = "75010199968"


def settings(url: str = URL, timeout: float = 2.0) -> SupplierSettings:
    return SupplierSettings(
        url="http://inasti.test/unused",
        l302_url=url,
        timeout_seconds=timeout,
        connect_timeout_seconds=0.5,
        max_connections=4,
    )


SupplierFactory = Callable[..., L302Supplier]


def simulator_handler(dataset: Dataset, seen: list[httpx.Request] | None = None) -> Handler:
    """Serves the L302 simulator's pure answers (delays ignored)."""
    return serving(lambda body: answer_l302(dataset, MAPPING, body, NOON), seen)


# --- hand-written L302 documents ----------------------------------------------------------


def response_document(inner: str) -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
        f'<l302:L302Response xmlns:l302="{L302_NS}">{inner}</l302:L302Response>'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def line(
    fund: str = "010",
    begin: str = "1990-01",
    end: str | None = "1999-12",
    category: str = "A",
    assimilation: str | None = None,
) -> str:
    parts = [f"<SIFCode>{fund}</SIFCode>", f"<BeginDate>{begin}</BeginDate>"]
    if end is not None:
        parts.append(f"<EndDate>{end}</EndDate>")
    parts.append(f"<ContributionCategory>{category}</ContributionCategory>")
    if assimilation is not None:
        parts.append(f"<AssimilationCode>{assimilation}</AssimilationCode>")
    return f"<CareerLine>{''.join(parts)}</CareerLine>"


def attestation(*lines: str, reference: str = "L3020000000101", cbe: str | None = None) -> bytes:
    number = "" if cbe is None else f"<SelfEmployedCBENumber>{cbe}</SelfEmployedCBENumber>"
    return response_document(
        f"<L302><AttestationID>{reference}</AttestationID>{number}{''.join(lines)}</L302>"
    )


def refusal(code: str, description: str | None = None) -> bytes:
    text = "" if description is None else f"<Description>{description}</Description>"
    return response_document(f"<Refusal><ReturnCode>{code}</ReturnCode>{text}</Refusal>")


def coded(table: dict[str, LocalizedTexts], code: str) -> CodedValue:
    texts = table[code]
    return CodedValue(
        code=code,
        descriptions=(
            Description(language=Language.FR, text=texts.FR),
            Description(language=Language.NL, text=texts.NL),
            Description(language=Language.DE, text=texts.DE),
        ),
    )


def career_of(answer: CareerAnswer) -> Career:
    assert answer.outcome is SupplierOutcome.FOUND and answer.career is not None
    return answer.career


def only_segment(career: Career) -> CareerSegment:
    (affiliation,) = career.affiliations
    (segment,) = affiliation.segments
    return segment


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path
