"""Structured logs: one JSON object per line on stdout, NISS redacted (see `privacy`).

Every exchange writes one line `{"message": "exchange", "ticketCBSS": …, "clientTicket": …,
"client": …, "operation": …, "outcome": …, "duration_ms": …, "supplier_ms": …}`; every other
event is JSON too.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from selfemployed_gateway.privacy import RedactSsin

_FORMAT = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """JSON lines on `stream` (stdout) for the whole process; quiet noisy libraries."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            _FORMAT,
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "process": "pid",
            },
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    handler.addFilter(RedactSsin())
    # The lines name no source file or line: logging's documented switch skips the stack
    # walk that finds them for every record (~5 µs of each exchange's line, issue #17).
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
    # httpx logs every supplier request at INFO: the exchange line already says it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
