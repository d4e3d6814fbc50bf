"""Configuration: the pydantic models of `config/gateway.toml`, with their defaults.

`configuration.py` reads them from the file, with `SEG_` overrides; an invalid configuration
stops start-up with `ConfigurationError`, whose message names the file, the field and the fix.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class Phase(StrEnum):
    """Which INASTI service the gateway calls (R-60 … R-62)."""

    FINAL = "final"
    TRANSITIONAL = "transitional"


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Listener(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=4520, ge=0, le=65535)


class GatewaySettings(Section):
    environment: Literal["development", "acceptance", "production"] = Field(
        default="development", description="R-74; production refuses unsafe settings"
    )
    phase: Phase = Phase.FINAL
    listen: Listener = Listener()
    path: str = Field(default="/SelfEmployedService/v2/consult", pattern=r"^/")
    public_url: str | None = Field(
        default=None,
        pattern=r"^https://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/[^\s?#]*$",
        description="the endpoint as clients reach it: the WSDL's soap:address",
    )
    # Exchanges run on the event loop; audit writes run beside it, in threads: this many for
    # PostgreSQL, one for SQLite (one writer at a time anyway).
    threads: int = Field(default=4, ge=1, le=1024, description="PostgreSQL audit writer threads")
    workers: int = Field(
        default=1, ge=1, le=64, description="gateway processes sharing the SOAP port (serve)"
    )
    reuse_port: bool = Field(
        default=False, description="bind the SOAP port with SO_REUSEPORT (several processes)"
    )
    pin_workers: bool = Field(
        default=False,
        description="serve: pin each gateway process to one CPU of those allowed, in turn",
    )
    cpu: int | None = Field(
        default=None,
        ge=0,
        le=4095,
        description="pin this process to this CPU (serve sets it for its workers)",
    )
    clock: str | None = Field(
        default=None, description="ISO datetime freezing the clock (tests); None = system clock"
    )
    validate_responses: bool = Field(
        default=False, description="validate every response against the XSD (tests, acceptance)"
    )
    max_request_bytes: int = Field(
        # Real requests are 1-2 KB; 64 KiB leaves room for WS-Addressing headers and such.
        default=64 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="larger request bodies are refused before they are read whole",
    )
    request_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="a request (headers and body) must arrive within this time",
    )
    max_connections: int = Field(
        default=1024, ge=8, le=1_000_000, description="SOAP connections open at once, in all"
    )
    max_connections_per_peer: int = Field(
        default=64, ge=1, le=1_000_000, description="SOAP connections open from one IP address"
    )
    new_connections_per_peer_per_second: float = Field(
        default=20.0, gt=0, le=100_000, description="new SOAP connections from one IP address"
    )
    listen_backlog: int = Field(default=511, ge=511, le=65535, description="SOAP listen queue")
    connection_max_age_seconds: float = Field(
        default=300.0, gt=0, le=86400, description="a connection is closed at this age"
    )
    connection_max_requests: int = Field(
        default=1000, ge=1, le=1_000_000, description="requests served on one connection"
    )

    @model_validator(mode="after")
    def _one_way_to_pin(self) -> GatewaySettings:
        # Every worker reads the same file: one `cpu` there would put them all on one CPU.
        if self.cpu is not None and (self.pin_workers or self.workers > 1):
            raise ValueError(
                "gateway.cpu pins a single process: with gateway.workers > 1 or "
                "gateway.pin_workers, leave it out (pin_workers gives each worker its CPU)"
            )
        return self


class AdminSettings(Section):
    listen: Listener = Listener(port=9520)
    token_file: Path | None = Field(
        default=None,
        description="a bearer token /metrics requires (/healthz, /readyz stay open for probes)",
    )


class TlsSettings(Section):
    certificate: Path
    private_key: Path
    client_ca: list[Path] = Field(min_length=1)
    client_bindings: Path | None = Field(
        default=None,
        description="which certificate is which client (bindings.py); None: by common name",
    )
    crl: list[Path] = Field(
        default_factory=list, description="PEM CRLs of the client CAs: revoked clients refused"
    )


class SupplierTlsSettings(Section):
    """Mutual TLS to INASTI (R-22, R-61): whom the gateway trusts, what it presents."""

    ca: list[Path] = Field(
        default_factory=list,
        description="CA file(s) of INASTI's server certificate; empty: the public roots",
    )
    certificate: Path | None = Field(default=None, description="the gateway's, PEM (+ chain)")
    private_key: Path | None = None
    pinned_sha256: list[str] = Field(
        default_factory=list, description="INASTI's server certificate(s), SHA-256 hex"
    )

    @field_validator("pinned_sha256")
    @classmethod
    def _fingerprints(cls, values: list[str]) -> list[str]:
        prints = [value.replace(":", "").lower() for value in values]
        for value in prints:
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                raise ValueError(f"{value!r} is not a SHA-256 fingerprint (64 hex digits)")
        return prints

    @model_validator(mode="after")
    def _pair(self) -> SupplierTlsSettings:
        if (self.certificate is None) != (self.private_key is None):
            raise ValueError("certificate and private_key go together (the gateway's identity)")
        return self


class SupplierSettings(Section):
    url: str = Field(pattern=r"^https?://", description="INASTI SelfEmployedService (final)")
    l302_url: str = Field(
        default="http://127.0.0.1:4580/inasti/L302",
        pattern=r"^https?://",
        description="INASTI L302 (transitional phase, R-60)",
    )
    l302_mapping: Path | None = Field(
        default=None, description="L302 conversion table (R-63), TOML; required in transitional"
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    connect_timeout_seconds: float = Field(default=1.0, gt=0, le=60)
    max_connections: int = Field(default=64, ge=1, le=1024)
    breaker_failures: int = Field(
        default=10, ge=1, le=10000, description="consecutive failed calls that open the circuit"
    )
    breaker_window_seconds: float = Field(
        default=10.0, ge=0, le=3600, description="the failures must span this long to open it"
    )
    breaker_cooldown_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="open circuit: fail fast this long, then probe"
    )
    tls: SupplierTlsSettings = SupplierTlsSettings()


class DataSettings(Section):
    dataset: Path


class ContractSettings(Section):
    wsdl: Path
    xsd_dir: Path


class SimulatorTlsSettings(Section):
    """HTTPS with client-certificate verification for the simulator (like INASTI's)."""

    certificate: Path
    private_key: Path
    client_ca: list[Path] = Field(min_length=1)


class SimulatorSettings(Section):
    listen: Listener = Listener(port=4580)
    tls: SimulatorTlsSettings | None = None  # None: plain HTTP
    dataset: Path
    clock: str | None = Field(default=None, description="ISO datetime; None = real time")
    latency_ms: int = Field(default=0, ge=0)
    l302_mapping: Path | None = Field(
        default=None,
        description="L302 conversion table served at /inasti/L302 (R-60); None = "
        "l302-mapping.toml beside the dataset",
    )


class AuditBackend(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class ClientLimits(Section):
    """One client's share, overriding the defaults of `[limits]` (R-28)."""

    in_flight: int | None = Field(default=None, ge=1, le=100_000)
    rate_per_second: float | None = Field(default=None, gt=0, le=100_000)
    burst: int | None = Field(default=None, ge=1, le=100_000)


class XmlLimitSettings(Section):
    """XML threat limits of a request, checked while it is parsed (MSG00004 beyond them)."""

    elements: int = Field(default=512, ge=32, le=1_000_000)
    children: int = Field(default=64, ge=8, le=1_000_000, description="per element")
    attributes: int = Field(default=16, ge=4, le=10_000, description="per element")
    attribute_length: int = Field(default=1024, ge=64, le=10_000_000)
    text_length: int = Field(default=4096, ge=256, le=10_000_000)
    header_bytes: int = Field(default=16 * 1024, ge=1024, le=10_000_000)


class LimitSettings(Section):
    """Fair shares and admission control (R-28): beyond a limit, MSG00003 at once."""

    client_in_flight: int = Field(
        default=32, ge=1, le=100_000, description="exchanges in flight per client"
    )
    client_rate_per_second: float | None = Field(
        default=None, gt=0, le=100_000, description="token bucket per client; None = no rate"
    )
    client_burst: int | None = Field(
        default=None, ge=1, le=100_000, description="bucket size; None = the rate, at least 1"
    )
    gateway_in_flight: int = Field(
        default=256, ge=1, le=1_000_000, description="exchanges in flight, all clients"
    )
    clients: dict[str, ClientLimits] = Field(default_factory=dict)
    xml: XmlLimitSettings = XmlLimitSettings()

    @model_validator(mode="after")
    def _shares_fit(self) -> LimitSettings:
        limits = [("client_in_flight", self.client_in_flight)] + [
            (f"clients.{name}.in_flight", entry.in_flight)
            for name, entry in self.clients.items()
            if entry.in_flight is not None
        ]
        for name, value in limits:
            if value > self.gateway_in_flight:
                raise ValueError(
                    f"{name} = {value} exceeds gateway_in_flight = {self.gateway_in_flight}: "
                    "one client could take the whole gateway"
                )
        return self


class AuditSettings(Section):
    """Where every exchange is kept (R-73), and for how long."""

    backend: AuditBackend = AuditBackend.SQLITE
    sqlite_path: Path | None = Field(
        default=None, description="SQLite file (WAL); required for the sqlite backend"
    )
    postgresql_dsn: str | None = Field(
        default=None, description="libpq connection string; required for postgresql"
    )
    retention_days: int = Field(default=400, ge=1, le=36500)
    # Above these, a stored message keeps its start, SHA-256 and length. Real requests are
    # 1-2 KB and responses 2-20 KB; a request near the 64 KiB body limit is an attack.
    max_request_bytes: int = Field(default=8 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_response_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)
    # Protection at rest (audit/protection.py): AES-256-GCM keys, the first seals new rows.
    encryption_keys: list[Path] = Field(default_factory=list, description="key files")
    encryption_key: SecretStr | None = Field(default=None, description="seals before the files")
    ssin_hash_key_file: Path | None = Field(default=None, description="HMAC key of the NISS")
    ssin_hash_key: SecretStr | None = None
    purge_interval_seconds: float = Field(
        default=3600, ge=0, le=7 * 86400, description="retention applied this often; 0: never"
    )
    decision_trail: bool = Field(
        default=True, description="store why each exchange ended so (audit explain, issue #18)"
    )


class RegistryBackend(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class RegistrySettings(Section):
    """Where the person register and the integration repertory are read (R-16 … R-21)."""

    backend: RegistryBackend = Field(
        default=RegistryBackend.SQLITE, description="sqlite: the dataset's, in memory"
    )
    postgresql_dsn: str | None = Field(default=None, description="libpq connection string")
    timeout_seconds: float = Field(default=2.0, gt=0, le=30, description="per read")
    connections: int = Field(default=4, ge=1, le=64, description="the pool's at most")

    @model_validator(mode="after")
    def _dsn(self) -> RegistrySettings:
        if self.backend is RegistryBackend.POSTGRESQL and not self.postgresql_dsn:
            raise ValueError(
                "backend = postgresql needs postgresql_dsn (SEG_REGISTRY_POSTGRESQL_DSN)"
            )
        return self


class LoggingSettings(Section):
    """Structured logs: JSON lines on stdout; a NISS is only ever written as a keyed hash."""

    level: str = Field(default="info", pattern=r"^(debug|info|warning|error)$")
    ssin_hash_key: str | None = Field(
        default=None,
        description="secret key of the NISS hash in logs; None: a random key per process",
    )


class Settings(Section):
    """The whole configuration of a gateway (and of its development simulator)."""

    gateway: GatewaySettings = GatewaySettings()
    admin: AdminSettings = AdminSettings()
    tls: TlsSettings
    supplier: SupplierSettings
    data: DataSettings
    contract: ContractSettings
    simulator: SimulatorSettings | None = None
    audit: AuditSettings = AuditSettings()
    registry: RegistrySettings = RegistrySettings()
    limits: LimitSettings = LimitSettings()
    logging: LoggingSettings = LoggingSettings()
    source: Path | None = Field(default=None, exclude=True)
