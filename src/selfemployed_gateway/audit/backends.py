"""Opening the audit store that the settings choose (R-73): SQLite or PostgreSQL."""

from __future__ import annotations

from selfemployed_gateway.audit.postgresql import PostgresAuditStore
from selfemployed_gateway.audit.sqlite import SqliteAuditStore
from selfemployed_gateway.audit.trail import AuditStore
from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.settings import AuditBackend, AuditSettings


def open_audit_store(settings: AuditSettings) -> AuditStore:
    """The store chosen by ``settings.backend``, opened and with its schema in place.

    Raises `ConfigurationError` when the backend lacks its path or DSN, and `AuditError`
    when the store cannot be opened.
    """
    if settings.backend is AuditBackend.SQLITE:
        if settings.sqlite_path is None:
            raise ConfigurationError(
                '[audit] sqlite_path: required when audit.backend = "sqlite"; '
                "set it (or SEG_AUDIT_SQLITE_PATH) to the audit database file"
            )
        return SqliteAuditStore(settings.sqlite_path)
    if settings.postgresql_dsn is None:
        raise ConfigurationError(
            '[audit] postgresql_dsn: required when audit.backend = "postgresql"; '
            "set it (or SEG_AUDIT_POSTGRESQL_DSN) to a libpq connection string"
        )
    return PostgresAuditStore(settings.postgresql_dsn)
