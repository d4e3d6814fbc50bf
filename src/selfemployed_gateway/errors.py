"""The project's one error tree: what can fail, by branch.

    GatewayError                      root: catch it to catch every failure of ours
    ├── ConfigurationError            a file or setting cannot be used; start-up or reload stops
    │   ├── (itself)                  the configuration file or a SEG_ variable (settings.py)
    │   ├── dataset.DatasetError      the annex / reference dataset
    │   ├── tls.TlsConfigurationError certificates, keys, CRLs
    │   └── suppliers.l302.mapping.L302MappingError   the L302 conversion table
    ├── AuditError                    the audit trail cannot be opened, read or written
    │   └── AuditOutcomeUnknown       a commit was sent and its outcome never came back
    ├── SupplierError                 no usable answer from INASTI: MSG00002 (R-22)
    ├── suppliers.soap11.ProtocolError  a supplier message not usable; becomes a SupplierError
    └── ExternalResourceRefused       a document asked the hardened parser for a DTD or entity

`GatewayFault` (records.py) is not here: it is an answer of the specification (§8), raised
by a stage to reply with a fault, not a failure of the gateway. The CLI and the configuration
reload catch `ConfigurationError` and `AuditError`, never a bare `ValueError`.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigurationError(GatewayError):
    """A configuration input cannot be used; the message names the file, the field and the fix."""


class AuditError(GatewayError):
    """The audit trail cannot be opened, read or written (R-73)."""


class AuditOutcomeUnknown(AuditError):
    """A commit was sent but its outcome is unknown (the connection died under it): the
    exchanges may be stored or not, so writing them again could store them twice."""


class SupplierError(GatewayError):
    """No usable answer from the supplier: fault MSG00002 with this `details` (R-22).

    `details` is one of the MSG00002 texts of `codes`; `cause` says what happened, for the
    log only (never in the answer). `answered`: the supplier did answer — a whole HTTP answer
    that is unusable for this file (a SOAP Fault, a body that is no expected answer) — so it is
    up: the circuit breaker counts only the failures where no answer came (breaker.py).
    """

    def __init__(self, details: str, cause: str = "", *, answered: bool = False) -> None:
        super().__init__(f"{details}: {cause}" if cause else details)
        self.details = details
        self.cause = cause
        self.answered = answered


class ExternalResourceRefused(GatewayError):
    """A document asked the parser to load an external resource (DTD, entity)."""
