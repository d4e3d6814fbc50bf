"""What a psycopg error may say in a log line or a message: never a row's values."""

from __future__ import annotations

import psycopg


def describe(error: psycopg.Error) -> str:
    """SQLSTATE and primary message only: a server DETAIL may quote row values (the XML of
    the audit trail, a NISS of the registers)."""
    diagnostic = error.diag
    if diagnostic.sqlstate and diagnostic.message_primary:
        return f"{type(error).__name__} [{diagnostic.sqlstate}]: {diagnostic.message_primary}"
    # Client-side failures (connection refused, timeout) carry no row data.
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}"
