"""L302 attestation → v2 `Career` (R-63), with the conversion table, code tables and funds.

``AttestationID`` → ``nisseReference``; ``SelfEmployedCBENumber`` →
``selfEmployedEnterpriseNumber``; no occupation, no signature date. The lines, in date order,
are grouped into affiliations: a line continues the previous affiliation when it has the same
SIFCode and begins at the latest the day after the previous line ends (an affiliation is
uninterrupted, with one fund). The fund's enterprise number comes from the gateway's fund
table (none for a fund missing from it: old funds have none). Each line becomes a career
segment whose quality and contribution come from the mapping of its category letter and whose
equality comes from the mapping of its assimilation code (`mapping.py`), with the FR, NL, DE
descriptions of the gateway's code tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from selfemployed_gateway.dataset import CodeTables, FundEntry, LocalizedTexts
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CareerSegment,
    CodedValue,
    DatePeriod,
    Description,
    Fund,
    Language,
)
from selfemployed_gateway.suppliers.l302.mapping import L302Mapping, L302MappingError
from selfemployed_gateway.suppliers.l302.protocol import Attestation, CareerLine
from selfemployed_gateway.suppliers.soap11 import ProtocolError


class UnmappedCode(ProtocolError):
    """A category letter or assimilation code that the L302 mapping does not know."""


def _coded(table: Mapping[str, LocalizedTexts], code: str) -> CodedValue:
    texts = table[code]  # present: checked when the conversion is built
    return CodedValue(
        code=code,
        descriptions=tuple(
            Description(language=language, text=getattr(texts, language.value))
            for language in Language  # FR, NL, DE
        ),
    )


def _continues(previous: CareerLine, line: CareerLine) -> bool:
    """Whether `line` extends the uninterrupted affiliation that `previous` ends."""
    if line.sif_code != previous.sif_code:
        return False
    return previous.end is None or line.begin <= previous.end + timedelta(days=1)


def group_affiliations(lines: Iterable[CareerLine]) -> list[list[CareerLine]]:
    """The lines in date order, grouped into uninterrupted affiliations with one fund."""
    groups: list[list[CareerLine]] = []
    for line in sorted(lines, key=lambda item: item.begin):
        if groups and _continues(groups[-1][-1], line):
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


class L302Conversion:
    """L302 attestation → v2 `Career` (R-63), with the mapping, code tables and fund table.

    Built once at start-up: a mapped code without descriptions in the code tables raises
    `L302MappingError` then, rather than answering codes without descriptions later.
    """

    def __init__(
        self, mapping: L302Mapping, code_tables: CodeTables, funds: Sequence[FundEntry]
    ) -> None:
        _check_descriptions(mapping, code_tables)
        self._mapping = mapping
        self._tables = code_tables
        self._fund_numbers = {fund.code: fund.enterpriseNumber for fund in funds}

    def career(self, attestation: Attestation) -> Career:
        """The whole career, or UnmappedCode: never a half-converted one (R-66)."""
        return Career(
            nisse_reference=attestation.attestation_id,
            enterprise_number=attestation.enterprise_number,
            affiliations=tuple(
                self._affiliation(group) for group in group_affiliations(attestation.lines)
            ),
        )

    def _affiliation(self, lines: list[CareerLine]) -> Affiliation:
        code = lines[0].sif_code
        return Affiliation(
            fund=Fund(code=code, enterprise_number=self._fund_numbers.get(code)),
            segments=tuple(self._segment(line) for line in lines),
        )

    def _segment(self, line: CareerLine) -> CareerSegment:
        category = self._mapping.categories.get(line.category)
        if category is None:
            raise UnmappedCode(
                f"contribution category {line.category!r} is not in the L302 mapping"
            )
        return CareerSegment(
            period=DatePeriod(begin=line.begin, end=line.end),
            quality=_coded(self._tables.selfEmployedQuality, category.quality),
            contribution=_coded(self._tables.contribution, category.contribution),
            equality=None if line.assimilation is None else self._equality(line.assimilation),
        )

    def _equality(self, assimilation: str) -> CodedValue:
        equality = self._mapping.assimilations.get(assimilation)
        if equality is None:
            raise UnmappedCode(f"assimilation code {assimilation!r} is not in the L302 mapping")
        return _coded(self._tables.equality, equality)


def _check_descriptions(mapping: L302Mapping, code_tables: CodeTables) -> None:
    categories = mapping.categories.values()
    wanted = (
        ("quality", code_tables.selfEmployedQuality, {entry.quality for entry in categories}),
        ("contribution", code_tables.contribution, {entry.contribution for entry in categories}),
        ("equality", code_tables.equality, set(mapping.assimilations.values())),
    )
    missing = [
        f"{name} {code}"
        for name, table, needed in wanted
        for code in sorted(needed)
        if code not in table
    ]
    if missing:
        raise L302MappingError(
            "L302 mapping: codes without descriptions in the gateway's code tables "
            f"(R-63): {', '.join(missing)}"
        )
