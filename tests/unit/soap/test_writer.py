"""soap/writer.py: the answer written as text is what lxml writes (R-52 … R-54, issue #17)."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.records import (
    Affiliation,
    Career,
    CareerSegment,
    CodedValue,
    ContributionPayment,
    DatePeriod,
    Description,
    Fund,
    Information,
    Language,
    Operation,
    Reply,
    SsinStatus,
)
from selfemployed_gateway.soap import faults, writer
from tests.support.soap import career_request, contributions_request, customer

# Every character lxml escapes or that a careless writer would get wrong: markup, the
# carriage return (a parser would make it a newline), quotes, tabs, non-ASCII, beyond the BMP.
HOSTILE = "a & b < c > d\r\ne\t\"f' é ü € 😀 ]]> &amp;"

CBSS = ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "2026-11-26T09:00:00.000Z")


def coded(code: str, text: str = "texte") -> CodedValue:
    return CodedValue(
        code=code,
        descriptions=(
            Description(language=Language.FR, text=text),
            Description(language=Language.NL, text="tekst"),
        ),
    )


CAREER = Career(
    nisse_reference=HOSTILE,
    enterprise_number="0567890161",
    occupation=coded("620100", HOSTILE),
    affiliations=(
        Affiliation(
            fund=Fund(code="010", enterprise_number="0409085424"),
            signature_date=date(1989, 12, 15),
            segments=(
                CareerSegment(
                    period=DatePeriod(begin=date(1990, 1, 1), end=date(1999, 12, 31)),
                    quality=coded("1"),
                    contribution=coded("2"),
                    equality=coded("3"),
                ),
                CareerSegment(
                    period=DatePeriod(begin=date(2000, 1, 1)),
                    quality=coded("1"),
                    contribution=coded("4"),
                ),
            ),
        ),
        Affiliation(
            fund=Fund(code=HOSTILE),
            segments=(
                CareerSegment(
                    period=DatePeriod(begin=date(2001, 1, 1), end=date(2001, 1, 1)),
                    quality=coded(HOSTILE, " "),
                    contribution=CodedValue(code="5"),
                ),
            ),
        ),
    ),
)

PAYMENTS = (
    ContributionPayment(
        quarter="2020Q1", fund=Fund(code="010"), situation=coded("1"), ziv=coded("2", HOSTILE)
    ),
    ContributionPayment(
        quarter=HOSTILE, fund=Fund(code="020", enterprise_number=HOSTILE), situation=coded("3")
    ),
)

REPLIES = {
    "career, everything": (
        Operation.CONSULT_CAREER,
        Reply(
            status=codes.DATA_FOUND,
            information=(Information(field_name=HOSTILE, field_value=HOSTILE),),
            ssin=SsinStatus(ssin="65031510159", canceled=True, replaces=HOSTILE),
            data_filters=("occupation", HOSTILE),
            career=CAREER,
        ),
    ),
    "career, status alone": (Operation.CONSULT_CAREER, Reply(status=codes.SSIN_UNKNOWN)),
    "contributions": (
        Operation.CONSULT_CONTRIBUTIONS,
        Reply(
            status=codes.DATA_FOUND,
            information=(Information(field_name="reason", field_value=None),),
            ssin=SsinStatus(ssin="65031510159"),
            payments=PAYMENTS,
        ),
    ),
    "contributions, none": (
        Operation.CONSULT_CONTRIBUTIONS,
        Reply(status=codes.NO_DATA_FOUND, payments=()),
    ),
}


def written(operation: Operation, reply: Reply) -> bytes:
    if operation is Operation.CONSULT_CAREER:
        text = career_request(customer(cbe="0212345668"), "PCSA:SOCIAL_INQUIRY", "65031510159")
    else:
        text = contributions_request(
            customer(cbe="0212345668"), "PCSA:SOCIAL_INQUIRY", "65031510159", "2020Q1"
        )
    request = etree.fromstring(text.encode())[-1][0]
    cbss = faults.information_cbss(CBSS[0], CBSS[1], CBSS[1])
    return writer.response_envelope(operation, request, reply, cbss)


@pytest.mark.parametrize("name", REPLIES)
def test_the_answer_is_the_bytes_lxml_writes_for_it(name: str) -> None:
    """Read back and written again by lxml, the answer is the same bytes: the text part is
    escaped and shaped exactly as lxml's own serialisation (elements, attributes, UTF-8)."""
    body = written(*REPLIES[name])
    again = etree.tostring(etree.fromstring(body), xml_declaration=True, encoding="UTF-8")
    assert body == again


def test_hostile_texts_come_back_as_they_were() -> None:
    """Every text of the answer reads back as the record held it (R-52 … R-54)."""
    operation, reply = REPLIES["career, everything"]
    root = etree.fromstring(written(operation, reply))
    answer = root[0][0]
    assert answer.findtext("career/nisseReference") == HOSTILE
    assert answer.findtext("career/occupation/description") == HOSTILE
    assert answer.find("ssin").get("replaces") == HOSTILE
    assert answer.find("ssin").get("canceled") == "true"
    assert answer.findtext("status/information/fieldValue") == HOSTILE
    assert [e.text for e in answer.iterfind("dataFilters/filteredElement")] == [
        "occupation",
        HOSTILE,
    ]
    segments = answer.findall("career/affiliations/affiliation/careerSegments/careerSegment")
    assert [s.findtext("period/endDate") for s in segments] == ["1999-12-31", None, "2001-01-01"]
    assert [child.tag for child in answer] == [
        "informationCustomer",
        "informationCBSS",
        "legalContext",
        "criteria",
        "status",
        "ssin",
        "dataFilters",
        "career",
    ]


@pytest.mark.parametrize("character", ["\x00", "\x0b", "\x1f", "\ud800", "\ufffe"])
def test_a_character_xml_cannot_hold_is_refused_as_lxml_refuses_it(character: str) -> None:
    """A text XML 1.0 cannot hold is a ValueError, as lxml raised it (then MSG00003, R-26),
    never an answer no client can parse."""
    operation, reply = REPLIES["career, everything"]
    assert reply.career is not None
    broken = reply.model_copy(
        update={"career": reply.career.model_copy(update={"nisse_reference": f"x{character}y"})}
    )
    with pytest.raises(ValueError, match="XML compatible"):
        written(operation, broken)


def test_an_empty_text_is_written_as_lxml_writes_an_element_whose_text_is_empty() -> None:
    """`<code></code>`, not `<code/>`: what lxml wrote for a text of "" (read back, an empty
    element has no text at all, hence not in the round trip above)."""
    operation, reply = REPLIES["contributions"]
    empty = reply.model_copy(
        update={"payments": (PAYMENTS[0].model_copy(update={"situation": CodedValue(code="")}),)}
    )
    element = etree.Element("code")
    element.text = ""
    assert etree.tostring(element) == b"<code></code>"
    assert b"<contributionSituation><code></code></contributionSituation>" in written(
        operation, empty
    )


def test_coded_values_are_written_by_what_they_hold_past_the_memo_bound() -> None:
    """The memo of coded values (by identity) never answers for another record: more
    records than it holds, dropped and built again, each written with its own code."""
    values = [coded(str(n), f"texte {n}") for n in range(writer._CODED_MAX + 100)]
    for _ in range(2):
        for n, value in enumerate(values):
            parts: list[str] = []
            writer._coded(parts, "ziv", value)
            assert parts == [
                f'<ziv><code>{n}</code><description language="FR">texte {n}</description>'
                '<description language="NL">tekst</description></ziv>'
            ]
    assert len(writer._CODED) <= writer._CODED_MAX
