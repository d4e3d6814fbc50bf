"""R-16 … R-19, R-52: the NISS is well formed, exists and is not replaced.

The XSD pattern (common:SsinType) already refused malformed values (R-10, MSG00004); here the
checksum (MSG00011), then the register: unknown (MSG00005), replaced (MSG00006, with the new
number in `ssin`), canceled (allowed, `canceled="true"`).

The decision trail's step ("NISS", issue #18) says which check refused the number, or the
register's state of a number that passed.
"""

from __future__ import annotations

from selfemployed_gateway import codes
from selfemployed_gateway.decisions import DecisionTrail
from selfemployed_gateway.records import Reply, SsinStatus
from selfemployed_gateway.registry import PersonRegister, PersonState

STAGE = "NISS"

# Born from 2000 on, the check digits are computed on "2" followed by the 9 digits.
_FROM_2000 = 2_000_000_000


def checksum_valid(ssin: str) -> bool:
    """R-16: 97 − (first 9 digits mod 97), with the `2` prefix for births from 2000 on.

    Bis numbers (month + 20 or + 40) follow the same rule on the digits as written.
    """
    if not _well_formed(ssin):
        return False
    return int(ssin[9:]) in _expected_check_digits(ssin)


def _well_formed(ssin: str) -> bool:
    return len(ssin) == 11 and ssin.isascii() and ssin.isdigit()


def _expected_check_digits(ssin: str) -> tuple[int, int]:
    """The check digits of a birth before 2000, then from 2000 on."""
    base = int(ssin[:9])
    return 97 - base % 97, 97 - (_FROM_2000 + base) % 97


async def check_ssin(
    ssin: str, register: PersonRegister, *, trail: DecisionTrail | None = None
) -> SsinStatus | Reply:
    """The `ssin` element of the response (R-52), or the status that stops the request."""
    if not checksum_valid(ssin):
        if trail is not None:
            _invalid(ssin, trail)
        return Reply(status=codes.SSIN_INVALID)  # R-16; ssin absent
    person = await register.find(ssin)
    if person is None:
        if trail is not None:
            trail.answered(
                STAGE,
                "R-17",
                because="the person register does not know this NISS",
                ssin=ssin,
                register="unknown",
            )
        return Reply(status=codes.SSIN_UNKNOWN)  # R-17; ssin absent
    if person.state is PersonState.REPLACED:
        replacement = await register.find(person.replaced_by) if person.replaced_by else None
        canceled = replacement is not None and replacement.state is PersonState.CANCELED
        if trail is not None:
            trail.answered(
                STAGE,
                "R-18",
                because=f"the person register says this NISS is replaced by {person.replaced_by}: "
                "the answer names it; ask again with the new number"
                if person.replaced_by
                else "the person register says this NISS is replaced (it names no new number)",
                ssin=ssin,
                register="replaced",
                replaced_by=person.replaced_by,
                replacement_canceled=canceled,
            )
        return Reply(  # blocked, but the client learns the new number
            status=codes.SSIN_REPLACED,
            ssin=SsinStatus(ssin=person.replaced_by or ssin, canceled=canceled, replaces=ssin),
        )
    if trail is not None:
        if person.state is PersonState.CANCELED:
            trail.passed(
                STAGE,
                "R-16",
                "R-17",
                "R-18",
                "R-19",
                register="canceled",
                canceled='a canceled NISS is allowed: the reply marks it canceled="true"',
            )
        else:
            trail.passed(STAGE, "R-16", "R-17", "R-18", register=person.state.value)
    return SsinStatus(ssin=ssin, canceled=person.state is PersonState.CANCELED)


def _invalid(ssin: str, trail: DecisionTrail) -> None:
    """R-16: which check the number fails, structure or check digits."""
    if not _well_formed(ssin):
        trail.answered(
            STAGE,
            "R-16",
            because="this NISS is not 11 digits",
            ssin=ssin,
            check="structure",
        )
        return
    before_2000, from_2000 = _expected_check_digits(ssin)
    trail.answered(
        STAGE,
        "R-16",
        because=f"the check digits {ssin[9:]} of this NISS are neither {before_2000:02d} "
        f"(97 − first 9 digits mod 97, born before 2000) nor {from_2000:02d} "
        "(the same with the 2 prefix, born from 2000)",
        ssin=ssin,
        check="checksum",
        check_digits=ssin[9:],
        expected=[f"{before_2000:02d}", f"{from_2000:02d}"],
    )
