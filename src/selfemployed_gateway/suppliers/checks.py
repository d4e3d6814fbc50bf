"""What both adapters check of an INASTI answer before reading it (R-22, R-66).

An answer is read only when it is the expected Body element and valid against the protocol's
schema; anything else is `SupplierError` "Unexpected response from supplier" with the reason
(for the log, never the answer), and a reader that still finds a value it cannot hold turns
into the same error: never a partial record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.errors import SupplierError
from selfemployed_gateway.suppliers.soap11 import MAX_CAUSE, ProtocolError
from selfemployed_gateway.xmlsafe import XmlSchema

_Read = TypeVar("_Read")


def unexpected_response(cause: str) -> SupplierError:
    """An answer came, but it is no usable answer (INASTI is up: `answered`)."""
    return SupplierError(codes.SUPPLIER_UNEXPECTED_RESPONSE, cause[:MAX_CAUSE], answered=True)


def read_checked(
    payload: etree._Element,
    expected: str,
    schema: XmlSchema,
    read: Callable[[etree._Element], _Read],
) -> _Read:
    """`read(payload)` once `payload` is the `expected` element and schema-valid."""
    if payload.tag != expected:
        raise unexpected_response(f"body element {str(payload.tag)[:80]}, expected {expected}")
    error = schema.first_error(payload)
    if error is not None:
        raise unexpected_response(f"schema: {error}")
    try:
        return read(payload)
    except (ProtocolError, ValueError) as exc:  # or a record that refuses a value
        raise unexpected_response(str(exc)) from exc
