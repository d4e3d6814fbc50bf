"""Personal data in logs: a NISS is never written in clear (it is personal data).

Wherever a log needs to say which person a line is about, it writes `ssin_tag(ssin)`: the
first 12 hex digits of HMAC-SHA256(key, NISS). Keyed, because an unkeyed hash of an
11-digit number is reversed by trying them all. The key comes from
`logging.ssin_hash_key` (`SEG_LOG_SSIN_HASH_KEY`), so that support can compute the tag of a
given NISS and grep for it; without a configured key each process draws a random one.
`RedactSsin` is the safety net: it replaces any NISS-shaped number left in a log record,
written with or without dots, dashes or spaces.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import unicodedata

_key = secrets.token_bytes(32)
# The shape of a NISS: eleven digits (any script's: "٦٥…", fullwidth "６５…") with up to two
# separators between any two of them — dots, dashes, slashes, underscores, commas, any
# space, zero-width characters — as people write it ("65.03.15-101.59" on the eID card,
# "650315 101 59", "650315/10159"), and not inside a longer run of digits.
_SEPARATOR = "[\\s.,/_\\-\u2010-\u2015\u200b-\u200d\u2060\ufeff]{0,2}"
_SSIN = re.compile(r"(?<!\d)\d(?:" + _SEPARATOR + r"\d){10}(?!\d)")
# Identifiers of the form 8-4-4-4-12 hex (ticketCBSS, many client tickets) are left whole: 1
# in 200 random UUIDs holds a NISS-shaped run of digits, and mangling them breaks correlation.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def set_key(key: str | None) -> None:
    """Use `key` for NISS tags (None: keep the random per-process key)."""
    global _key
    if key is not None:
        _key = key.encode("utf-8")


def ssin_tag(ssin: str) -> str:
    """The pseudonym of a NISS in logs: `ssin:` + 12 hex digits of a keyed hash."""
    digest = hmac.new(_key, ssin.encode("ascii", "replace"), hashlib.sha256).hexdigest()
    return f"ssin:{digest[:12]}"


def redact(text: str) -> str:
    """`text` with every NISS-shaped number, however written, replaced by the tag of its
    eleven digits (so that "65.03.15-101.59" and "65031510159" get the same tag)."""
    if _SSIN.search(text) is None:  # most texts: one search, nothing to cut (issue #17)
        return text
    pieces: list[str] = []
    done = 0
    for uuid in _UUID.finditer(text):
        pieces.append(_redact_numbers(text[done : uuid.start()]))
        pieces.append(uuid.group(0))
        done = uuid.end()
    pieces.append(_redact_numbers(text[done:]))
    return "".join(pieces)


def _redact_numbers(text: str) -> str:
    return _SSIN.sub(lambda match: ssin_tag(digits_of(match.group(0))), text)


def digits_of(written: str) -> str:
    """The ASCII digits of a written number, whatever its script and separators."""
    return "".join(str(unicodedata.digit(c)) for c in written if c.isdecimal())


class RedactSsin(logging.Filter):
    """A handler filter: no NISS-shaped number leaves in a message, its args or extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value))
        if record.exc_info and record.exc_info[1] is not None:
            # Exception texts may quote input: render once, redacted, and drop the original.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
