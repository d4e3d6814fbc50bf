"""L302 → v2 career conversion (R-63): every code of the table, grouping into affiliations
(suppliers/l302/conversion.py), read through the adapter."""

from __future__ import annotations

from datetime import date

import pytest

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import Dataset
from selfemployed_gateway.records import (
    Career,
    CareerSegment,
    CodedValue,
    DatePeriod,
    Description,
    Fund,
    Language,
)
from selfemployed_gateway.suppliers.l302.conversion import group_affiliations
from selfemployed_gateway.suppliers.l302.protocol import (
    CareerLine,
)
from tests.support.aio import run
from tests.support.l302 import (
    MAPPING,
    MULTI,
    WHOLE_CAREER,
    YEAR_2000,
    SupplierFactory,
    attestation,
    career_of,
    coded,
    line,
    only_segment,
)
from tests.support.mock_supplier import failure_of, fixed

# --- conversion (R-63) --------------------------------------------------------------------


@pytest.mark.parametrize("letter", sorted(MAPPING.categories))
def test_every_category_letter_of_the_mapping(
    dataset: Dataset, supplier_with: SupplierFactory, letter: str
) -> None:
    body = attestation(line(begin="2001-03-15", end="2002-06-30", category=letter))
    segment = only_segment(
        career_of(run(supplier_with(fixed(body)).consult_career(MULTI, YEAR_2000)))
    )
    entry = MAPPING.categories[letter]
    assert entry.quality in {"100", "300", "400"}
    assert segment == CareerSegment(
        period=DatePeriod(begin=date(2001, 3, 15), end=date(2002, 6, 30)),
        quality=coded(dataset.codes.selfEmployedQuality, entry.quality),
        contribution=coded(dataset.codes.contribution, entry.contribution),
    )


def test_helping_spouse_maxi_status_spelled_out(supplier_with: SupplierFactory) -> None:
    """Letter L, independently of the table lookups: quality 300, contribution 112."""
    body = attestation(line(category="L", assimilation="3C"))
    segment = only_segment(
        career_of(run(supplier_with(fixed(body)).consult_career(MULTI, YEAR_2000)))
    )
    assert segment.quality == CodedValue(
        code="300",
        descriptions=(
            Description(language=Language.FR, text="Conjoint aidant"),
            Description(language=Language.NL, text="Meewerkende echtgenoot"),
            Description(language=Language.DE, text="Mithelfender Ehepartner"),
        ),
    )
    assert segment.contribution.code == "112"
    assert [d.text for d in segment.contribution.descriptions] == [
        "Conjoint aidant, maxi-statut",
        "Meewerkende echtgenoot, maxistatuut",
        "Mithelfender Ehepartner, Maxi-Statut",
    ]
    assert segment.equality is not None and segment.equality.code == "136"
    assert [d.language for d in segment.equality.descriptions] == [
        Language.FR,
        Language.NL,
        Language.DE,
    ]


@pytest.mark.parametrize("code", sorted(MAPPING.assimilations))
def test_every_assimilation_code_of_the_mapping(
    dataset: Dataset, supplier_with: SupplierFactory, code: str
) -> None:
    body = attestation(line(assimilation=code))
    segment = only_segment(
        career_of(run(supplier_with(fixed(body)).consult_career(MULTI, YEAR_2000)))
    )
    assert segment.equality == coded(dataset.codes.equality, MAPPING.assimilations[code])


def test_career_header_and_funds(supplier_with: SupplierFactory) -> None:
    """AttestationID → nisseReference, CBE number kept, no occupation, no signature date; the
    fund's enterprise number from the fund table, none for an old fund or one not in it."""
    body = attestation(
        line(fund="010", begin="1970-01", end="1974-12"),
        line(fund="014", begin="1975-01", end="1979-12"),
        line(fund="055", begin="1980-01", end="1984-12"),
        reference="L30200000001",
        cbe="0567890161",
    )
    career = career_of(run(supplier_with(fixed(body)).consult_career(MULTI, WHOLE_CAREER)))
    assert career.nisse_reference == "L30200000001"
    assert career.enterprise_number == "0567890161"
    assert career.occupation is None
    assert [a.fund for a in career.affiliations] == [
        Fund(code="010", enterprise_number="0409085424"),
        Fund(code="014", enterprise_number=None),
        Fund(code="055", enterprise_number=None),
    ]
    assert all(a.signature_date is None for a in career.affiliations)


def fund_groups(career: Career) -> list[tuple[str, list[date]]]:
    return [(a.fund.code, [s.period.begin for s in a.segments]) for a in career.affiliations]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (  # consecutive lines of one fund: one affiliation; another fund: another one
            [
                line("010", "1990-01", "1999-12", "A"),
                line("010", "2000-01", "2000-06", "A", "30"),
                line("002", "2000-07", None, "D"),
            ],
            [("010", [date(1990, 1, 1), date(2000, 1, 1)]), ("002", [date(2000, 7, 1)])],
        ),
        (  # back to the first fund: a new affiliation
            [
                line("010", "1990-01", "1994-12"),
                line("002", "1995-01", "1999-12"),
                line("010", "2000-01", None),
            ],
            [
                ("010", [date(1990, 1, 1)]),
                ("002", [date(1995, 1, 1)]),
                ("010", [date(2000, 1, 1)]),
            ],
        ),
        (  # an interruption at the same fund: the affiliation is not uninterrupted
            [line("010", "1990-01", "1994-12"), line("010", "1996-01", "1999-12")],
            [("010", [date(1990, 1, 1)]), ("010", [date(1996, 1, 1)])],
        ),
        (  # day-granular continuation: the next day continues
            [line("010", "1990-01-01", "1994-06-14"), line("010", "1994-06-15", None, "D")],
            [("010", [date(1990, 1, 1), date(1994, 6, 15)])],
        ),
        (  # lines out of order are taken in date order
            [line("010", "2000-01", "2000-06", "D"), line("010", "1990-01", "1999-12")],
            [("010", [date(1990, 1, 1), date(2000, 1, 1)])],
        ),
    ],
    ids=["two-funds", "back-to-first-fund", "interruption", "next-day", "unordered"],
)
def test_lines_grouped_into_affiliations(
    supplier_with: SupplierFactory, lines: list[str], expected: list[tuple[str, list[date]]]
) -> None:
    career = career_of(
        run(supplier_with(fixed(attestation(*lines))).consult_career(MULTI, WHOLE_CAREER))
    )
    assert fund_groups(career) == expected


def test_grouping_keeps_every_line() -> None:
    lines = [
        CareerLine("010", date(1990, 1, 1), date(1990, 12, 31), "A"),
        CareerLine("010", date(1991, 1, 1), None, "D"),
        CareerLine("002", date(1985, 1, 1), date(1989, 12, 31), "A"),
    ]
    groups = group_affiliations(lines)
    assert [[item.begin.year for item in group] for group in groups] == [[1985], [1990, 1991]]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (attestation(line(category="Z")), "'Z'"),
        (attestation(line(), line("002", "2000-01", None, "B")), "'B'"),  # after a good line
        (attestation(line(assimilation="3K")), "'3K'"),
    ],
    ids=["unknown-letter", "unknown-letter-after-a-good-line", "unknown-assimilation"],
)
def test_unmapped_code_is_msg00002_naming_it(
    supplier_with: SupplierFactory, body: bytes, named: str
) -> None:
    answers: list[object] = []
    supplier = supplier_with(fixed(body))
    error = failure_of(lambda: answers.append(run(supplier.consult_career(MULTI, WHOLE_CAREER))))
    assert error.details == codes.SUPPLIER_UNEXPECTED_RESPONSE
    assert named in error.cause and "L302 mapping" in error.cause
    assert answers == []  # never a half-converted career
