"""R-16 … R-19, R-52: the NISS is well formed, exists and is not replaced.

The XSD pattern (common:SsinType) already refused malformed values (R-10, MSG00004); here the
checksum (MSG00011), then the register: unknown (MSG00005), replaced (MSG00006, with the new
number in `ssin`), canceled (allowed, `canceled="true"`).
"""

from __future__ import annotations

from selfemployed_gateway import codes
from selfemployed_gateway.records import Reply, SsinStatus
from selfemployed_gateway.registry import PersonRegister, PersonState

# Born from 2000 on, the check digits are computed on "2" followed by the 9 digits.
_FROM_2000 = 2_000_000_000


def checksum_valid(ssin: str) -> bool:
    """R-16: 97 − (first 9 digits mod 97), with the `2` prefix for births from 2000 on.

    Bis numbers (month + 20 or + 40) follow the same rule on the digits as written.
    """
    if len(ssin) != 11 or not ssin.isascii() or not ssin.isdigit():
        return False
    base, check = int(ssin[:9]), int(ssin[9:])
    return check in (97 - base % 97, 97 - (_FROM_2000 + base) % 97)


async def check_ssin(ssin: str, register: PersonRegister) -> SsinStatus | Reply:
    """The `ssin` element of the response (R-52), or the status that stops the request."""
    if not checksum_valid(ssin):
        return Reply(status=codes.SSIN_INVALID)  # R-16; ssin absent
    person = await register.find(ssin)
    if person is None:
        return Reply(status=codes.SSIN_UNKNOWN)  # R-17; ssin absent
    if person.state is PersonState.REPLACED:
        replacement = await register.find(person.replaced_by) if person.replaced_by else None
        canceled = replacement is not None and replacement.state is PersonState.CANCELED
        return Reply(  # blocked, but the client learns the new number
            status=codes.SSIN_REPLACED,
            ssin=SsinStatus(ssin=person.replaced_by or ssin, canceled=canceled, replaces=ssin),
        )
    return SsinStatus(ssin=ssin, canceled=person.state is PersonState.CANCELED)
