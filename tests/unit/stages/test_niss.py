"""R-16 … R-19, R-52: NISS checksum and register look-up (stages/niss.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfemployed_gateway import codes
from selfemployed_gateway.dataset import Dataset, load_dataset
from selfemployed_gateway.decisions import DecisionTrail, Step, Verdict
from selfemployed_gateway.records import Reply, SsinStatus
from selfemployed_gateway.registry import PersonRegister, PersonState, RegisteredPerson
from selfemployed_gateway.stages import niss
from selfemployed_gateway.stages.niss import checksum_valid
from tests.support.aio import run
from tests.unit.conftest import PROJECT, registers


def check_ssin(ssin: str, register: PersonRegister) -> SsinStatus | Reply:
    """The stage, awaited (its register reads are coroutines)."""
    return run(niss.check_ssin(ssin, register))


@pytest.mark.parametrize(
    ("ssin", "valid"),
    [
        # born before 2000: 97 − (first 9 digits mod 97)
        ("93021400191", True),
        ("93021400190", False),
        ("93021400192", False),
        ("65031510159", True),
        ("65031510158", False),
        ("65031510160", False),
        # born from 2000 on: 97 − ((2 followed by the 9 digits) mod 97)
        ("05031512367", True),
        ("05031512366", False),
        ("05031512368", False),
        ("01010100324", True),
        ("03050701202", True),
        # bis numbers: month + 20 and month + 40, same rule on the digits as written
        ("88230115578", True),
        ("88230115577", False),
        ("70441107119", True),
        ("70441107120", False),
        ("05231512313", True),
        ("05431512356", True),
        ("65231512380", True),
        ("65431512326", True),
        ("65431512325", False),
        # 97 boundary: a remainder of 0 gives check digits 97, never 00
        ("85010101697", True),
        ("85010101600", False),
        ("05010101497", True),
        ("05010101400", False),
        # 98 and 99 are never check digits
        ("85010101698", False),
        ("85010101699", False),
        # structure: 11 ASCII digits only
        ("9302140019", False),
        ("930214001911", False),
        ("9302140019a", False),
        ("٩٣٠٢١٤٠٠١٩١", False),  # Arabic-Indic digits: isdigit() but not ASCII
        ("", False),
    ],
)
def test_checksum_table(ssin: str, valid: bool) -> None:
    """R-16: mod-97 check, `2` prefix from 2000, bis months, the 97 boundary."""
    assert checksum_valid(ssin) is valid


def _check(base: int, from_2000: bool) -> int:
    return 97 - ((2_000_000_000 if from_2000 else 0) + base) % 97


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    serial=st.integers(min_value=1, max_value=998),
    bis=st.sampled_from([0, 20, 40]),
)
def test_checksum_property(birth: date, serial: int, bis: int) -> None:
    """R-16: the number built with the right rule is valid; any other check value is not.

    The number does not say the century, so the other century's check value is necessarily
    accepted too; the two never coincide, and nothing else is accepted.
    """
    digits = f"{birth.year % 100:02d}{birth.month + bis:02d}{birth.day:02d}{serial:03d}"
    from_2000 = birth.year >= 2000
    right = _check(int(digits), from_2000)
    other = _check(int(digits), not from_2000)
    assert right != other
    assert checksum_valid(f"{digits}{right:02d}")
    for value in range(100):
        if value not in (right, other):
            assert not checksum_valid(f"{digits}{value:02d}"), value


def _register_cases() -> list[tuple[str, str]]:
    dataset = load_dataset(PROJECT / "config" / "reference-dataset.json")
    return [(person.ssin, person.status) for person in dataset.person_register]


@pytest.mark.parametrize(("ssin", "status"), _register_cases())
def test_every_register_entry(dataset: Dataset, ssin: str, status: str) -> None:
    """R-17 … R-19, R-52: active → ssin; canceled → canceled="true"; replaced → MSG00006."""
    result = check_ssin(ssin, registers(dataset))
    if status == "active":
        assert result == SsinStatus(ssin=ssin)
    elif status == "canceled":
        assert ssin == "58112403357"
        assert result == SsinStatus(ssin=ssin, canceled=True)
    else:
        assert ssin == "80022904503"
        assert result == Reply(
            status=codes.SSIN_REPLACED,
            ssin=SsinStatus(ssin="90101007731", replaces="80022904503"),
        )
        assert isinstance(result, Reply)
        assert (result.status.value, result.status.code) == ("NO_RESULT", "MSG00006")


def test_register_has_one_entry_of_each_kind(dataset: Dataset) -> None:
    """The table above covers all three register states."""
    assert {status for _, status in _register_cases()} == {"active", "canceled", "replaced"}


def test_not_in_register_is_msg00005(dataset: Dataset) -> None:
    """R-17, R-52: unknown NISS → NO_RESULT MSG00005 without `ssin`."""
    assert dataset.not_in_register
    for ssin in dataset.not_in_register:
        assert checksum_valid(ssin)
        result = check_ssin(ssin, registers(dataset))
        assert result == Reply(status=codes.SSIN_UNKNOWN)
        assert isinstance(result, Reply)
        assert result.ssin is None
        assert (result.status.value, result.status.code) == ("NO_RESULT", "MSG00005")
        assert result.status.description == "The INSZ given in request does not exist."


@pytest.mark.parametrize("ssin", ["65031510158", "58112403356", "80022904504", "75010199969"])
def test_invalid_checksum_is_msg00011(dataset: Dataset, ssin: str) -> None:
    """R-16, R-52: checksum-invalid NISS → NO_RESULT MSG00011 without `ssin`, even when the
    register would know the number (the checksum is checked first)."""
    result = check_ssin(ssin, registers(dataset))
    assert result == Reply(status=codes.SSIN_INVALID)
    assert isinstance(result, Reply)
    assert result.ssin is None
    assert (result.status.value, result.status.code) == ("NO_RESULT", "MSG00011")


@dataclass
class FakeRegister:
    people: dict[str, RegisteredPerson]
    asked: list[str] = field(default_factory=list)

    async def find(self, ssin: str) -> RegisteredPerson | None:
        self.asked.append(ssin)
        return self.people.get(ssin)


def test_replaced_by_a_canceled_number() -> None:
    """R-18, R-52: A replaced by canceled B → MSG00006, `<ssin replaces="A" canceled="true">B`."""
    register = FakeRegister(
        {
            "80022904503": RegisteredPerson(
                "80022904503", PersonState.REPLACED, replaced_by="90101007731"
            ),
            "90101007731": RegisteredPerson("90101007731", PersonState.CANCELED),
        }
    )
    assert check_ssin("80022904503", register) == Reply(
        status=codes.SSIN_REPLACED,
        ssin=SsinStatus(ssin="90101007731", canceled=True, replaces="80022904503"),
    )


def test_replaced_by_an_active_number_is_not_canceled() -> None:
    """R-18, R-52: the replacement's state decides `canceled`, not the replaced number's."""
    register = FakeRegister(
        {
            "80022904503": RegisteredPerson(
                "80022904503", PersonState.REPLACED, replaced_by="90101007731"
            ),
            "90101007731": RegisteredPerson("90101007731", PersonState.ACTIVE),
        }
    )
    assert check_ssin("80022904503", register) == Reply(
        status=codes.SSIN_REPLACED,
        ssin=SsinStatus(ssin="90101007731", canceled=False, replaces="80022904503"),
    )


def test_checksum_is_checked_before_the_register() -> None:
    """R-16 before R-17: an invalid number never reaches the register."""
    register = FakeRegister({})
    assert check_ssin("65031510158", register) == Reply(status=codes.SSIN_INVALID)
    assert register.asked == []


# --- decision trail (issue #18) ----------------------------------------------------------------


def trail_of(ssin: str, register: PersonRegister) -> list[Step]:
    trail = DecisionTrail()
    run(niss.check_ssin(ssin, register, trail=trail))
    return trail.steps


def test_trail_of_wrong_check_digits_names_the_expected_ones(dataset: Dataset) -> None:
    """R-16 MSG00011: which check failed; 650315101 mod 97 = 38, so 59 (or 88 from 2000)."""
    assert trail_of("65031510158", registers(dataset)) == [
        Step(
            "NISS",
            Verdict.ANSWERED,
            ("R-16",),
            {
                "ssin": "65031510158",
                "check": "checksum",
                "check_digits": "58",
                "expected": ["59", "88"],
            },
            "the check digits 58 of this NISS are neither 59 (97 − first 9 digits mod 97, born "
            "before 2000) nor 88 (the same with the 2 prefix, born from 2000)",
        )
    ]


def test_trail_of_a_malformed_niss() -> None:
    """R-16: not 11 ASCII digits (R-10 refuses it first on the wire; the stage says so too)."""
    register = FakeRegister({})
    assert trail_of("9302140019a", register) == [
        Step(
            "NISS",
            Verdict.ANSWERED,
            ("R-16",),
            {"ssin": "9302140019a", "check": "structure"},
            "this NISS is not 11 digits",
        )
    ]
    assert register.asked == []


def test_trail_of_a_niss_unknown_to_the_register(dataset: Dataset) -> None:
    """R-17 MSG00005."""
    assert trail_of("75010199968", registers(dataset)) == [
        Step(
            "NISS",
            Verdict.ANSWERED,
            ("R-17",),
            {"ssin": "75010199968", "register": "unknown"},
            "the person register does not know this NISS",
        )
    ]


def test_trail_of_a_replaced_niss_names_its_replacement() -> None:
    """R-18 MSG00006: replaced by which NISS, and whether that one is canceled."""
    register = FakeRegister(
        {
            "80022904503": RegisteredPerson(
                "80022904503", PersonState.REPLACED, replaced_by="90101007731"
            ),
            "90101007731": RegisteredPerson("90101007731", PersonState.CANCELED),
        }
    )
    assert trail_of("80022904503", register) == [
        Step(
            "NISS",
            Verdict.ANSWERED,
            ("R-18",),
            {
                "ssin": "80022904503",
                "register": "replaced",
                "replaced_by": "90101007731",
                "replacement_canceled": True,
            },
            "the person register says this NISS is replaced by 90101007731: the answer names "
            "it; ask again with the new number",
        )
    ]


def test_trail_of_an_active_and_of_a_canceled_niss(dataset: Dataset) -> None:
    """Passed; R-19: a canceled NISS is allowed, and the step says so."""
    assert trail_of("65031510159", registers(dataset)) == [
        Step("NISS", Verdict.PASSED, ("R-16", "R-17", "R-18"), {"register": "active"})
    ]
    assert trail_of("58112403357", registers(dataset)) == [
        Step(
            "NISS",
            Verdict.PASSED,
            ("R-16", "R-17", "R-18", "R-19"),
            {
                "register": "canceled",
                "canceled": 'a canceled NISS is allowed: the reply marks it canceled="true"',
            },
        )
    ]
