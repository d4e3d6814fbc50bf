"""Reading INASTI's final-phase answers (suppliers/final/protocol.py): the coded-value memo."""

from __future__ import annotations

import pytest
from lxml import etree

from selfemployed_gateway.records import CodedValue, Description, Language
from selfemployed_gateway.suppliers.final import protocol


def coded(code: str, *descriptions: tuple[str, str]) -> etree._Element:
    element = etree.Element("quality")
    etree.SubElement(element, "code").text = code
    for language, text in descriptions:
        item = etree.SubElement(element, "description", language=language)
        item.text = text
    return element


def test_a_coded_value_read_twice_is_one_record() -> None:
    first = protocol._read_coded(coded("2", ("FR", "Aidant"), ("NL", "Helper")))
    again = protocol._read_coded(coded("2", ("FR", "Aidant"), ("NL", "Helper")))
    assert first == CodedValue(
        code="2",
        descriptions=(
            Description(language=Language.FR, text="Aidant"),
            Description(language=Language.NL, text="Helper"),
        ),
    )
    assert again is first


def test_the_memo_tells_apart_what_differs_and_still_refuses_a_bad_language() -> None:
    base = protocol._read_coded(coded("2", ("FR", "Aidant")))
    assert protocol._read_coded(coded("2", ("FR", "Autre"))).descriptions[0].text == "Autre"
    assert protocol._read_coded(coded("3", ("FR", "Aidant"))).code == "3"
    assert protocol._read_coded(coded("2", ("FR", "Aidant"))) is base
    with pytest.raises(ValueError):  # read_checked turns it into MSG00002
        protocol._read_coded(coded("2", ("XX", "Aidant")))


def test_the_memo_is_bounded() -> None:
    limit = protocol._coded_value.cache_info().maxsize
    assert limit is not None
    for number in range(limit + 10):
        protocol._read_coded(coded(str(number)))
    assert protocol._coded_value.cache_info().currsize <= limit
