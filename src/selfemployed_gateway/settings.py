"""Configuration: pydantic models loaded from a TOML file in `config/`, with `SEG_` overrides.

Relative paths in the file are relative to the file's own folder. Environment variables
override single settings (see `ENVIRONMENT_OVERRIDES`); an invalid configuration stops
start-up with `ConfigurationError`, whose message names the file, the field and the fix.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from selfemployed_gateway.errors import ConfigurationError

DEFAULT_CONFIG = Path("config/gateway.toml")
CONFIG_ENV = "SEG_CONFIG"


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


class DataSettings(Section):
    dataset: Path


class ContractSettings(Section):
    wsdl: Path
    xsd_dir: Path


class SimulatorSettings(Section):
    listen: Listener = Listener(port=4580)
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
    limits: LimitSettings = LimitSettings()
    logging: LoggingSettings = LoggingSettings()
    source: Path | None = Field(default=None, exclude=True)


# Environment variable -> dotted setting. Kept explicit so that ops can read the full list.
ENVIRONMENT_OVERRIDES: Mapping[str, str] = {
    "SEG_PHASE": "gateway.phase",
    "SEG_ENVIRONMENT": "gateway.environment",
    "SEG_LISTEN_HOST": "gateway.listen.host",
    "SEG_LISTEN_PORT": "gateway.listen.port",
    "SEG_THREADS": "gateway.threads",
    "SEG_WORKERS": "gateway.workers",
    "SEG_REUSE_PORT": "gateway.reuse_port",
    "SEG_CLOCK": "gateway.clock",
    "SEG_PUBLIC_URL": "gateway.public_url",
    "SEG_MAX_REQUEST_BYTES": "gateway.max_request_bytes",
    "SEG_REQUEST_TIMEOUT": "gateway.request_timeout_seconds",
    "SEG_MAX_CONNECTIONS": "gateway.max_connections",
    "SEG_MAX_CONNECTIONS_PER_PEER": "gateway.max_connections_per_peer",
    "SEG_LISTEN_BACKLOG": "gateway.listen_backlog",
    "SEG_NEW_CONNECTIONS_PER_PEER": "gateway.new_connections_per_peer_per_second",
    "SEG_CONNECTION_MAX_AGE": "gateway.connection_max_age_seconds",
    "SEG_CONNECTION_MAX_REQUESTS": "gateway.connection_max_requests",
    "SEG_VALIDATE_RESPONSES": "gateway.validate_responses",
    "SEG_ADMIN_HOST": "admin.listen.host",
    "SEG_ADMIN_PORT": "admin.listen.port",
    "SEG_ADMIN_TOKEN_FILE": "admin.token_file",
    "SEG_SUPPLIER_URL": "supplier.url",
    "SEG_SUPPLIER_L302_URL": "supplier.l302_url",
    "SEG_SUPPLIER_L302_MAPPING": "supplier.l302_mapping",
    "SEG_SUPPLIER_TIMEOUT": "supplier.timeout_seconds",
    "SEG_SUPPLIER_BREAKER_FAILURES": "supplier.breaker_failures",
    "SEG_SUPPLIER_BREAKER_COOLDOWN": "supplier.breaker_cooldown_seconds",
    "SEG_SUPPLIER_BREAKER_WINDOW": "supplier.breaker_window_seconds",
    "SEG_LIMIT_CLIENT_IN_FLIGHT": "limits.client_in_flight",
    "SEG_LIMIT_CLIENT_RATE": "limits.client_rate_per_second",
    "SEG_LIMIT_CLIENT_BURST": "limits.client_burst",
    "SEG_LIMIT_GATEWAY_IN_FLIGHT": "limits.gateway_in_flight",
    "SEG_DATASET": "data.dataset",
    "SEG_TLS_CERTIFICATE": "tls.certificate",
    "SEG_TLS_PRIVATE_KEY": "tls.private_key",
    "SEG_TLS_CLIENT_CA": "tls.client_ca",  # comma-separated files
    "SEG_TLS_CRL": "tls.crl",  # comma-separated files
    "SEG_TLS_CLIENT_BINDINGS": "tls.client_bindings",
    "SEG_AUDIT_BACKEND": "audit.backend",
    "SEG_AUDIT_SQLITE_PATH": "audit.sqlite_path",
    "SEG_AUDIT_POSTGRESQL_DSN": "audit.postgresql_dsn",
    "SEG_AUDIT_RETENTION_DAYS": "audit.retention_days",
    "SEG_AUDIT_MAX_REQUEST_BYTES": "audit.max_request_bytes",
    "SEG_AUDIT_MAX_RESPONSE_BYTES": "audit.max_response_bytes",
    "SEG_AUDIT_ENCRYPTION_KEYS": "audit.encryption_keys",  # comma-separated files
    "SEG_AUDIT_ENCRYPTION_KEY": "audit.encryption_key",  # the key itself (a secret)
    "SEG_AUDIT_SSIN_HASH_KEY_FILE": "audit.ssin_hash_key_file",
    "SEG_AUDIT_SSIN_HASH_KEY": "audit.ssin_hash_key",
    "SEG_AUDIT_PURGE_INTERVAL": "audit.purge_interval_seconds",
    "SEG_LOG_LEVEL": "logging.level",
    "SEG_LOG_SSIN_HASH_KEY": "logging.ssin_hash_key",
    "SEG_SIMULATOR_HOST": "simulator.listen.host",
    "SEG_SIMULATOR_PORT": "simulator.listen.port",
    "SEG_SIMULATOR_CLOCK": "simulator.clock",
    "SEG_SIMULATOR_LATENCY_MS": "simulator.latency_ms",
}

_PATH_SETTINGS = (
    ("tls", "certificate"),
    ("tls", "private_key"),
    ("tls", "client_bindings"),
    ("admin", "token_file"),
    ("data", "dataset"),
    ("supplier", "l302_mapping"),
    ("audit", "sqlite_path"),
    ("audit", "ssin_hash_key_file"),
    ("contract", "wsdl"),
    ("contract", "xsd_dir"),
    ("simulator", "dataset"),
    ("simulator", "l302_mapping"),
)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load the configuration file, apply `SEG_` overrides, resolve paths, validate."""
    path, raw, sources = _read(path, environ)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigurationError(_explain(path, exc, sources)) from exc
    return settings.model_copy(update={"source": path.resolve()})


def load_simulator_settings(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> SimulatorSettings:
    """Only the `[simulator]` section: the simulator needs none of the gateway's settings."""
    path, raw, sources = _read(path, environ)
    section = raw.get("simulator")
    if not isinstance(section, dict):
        raise ConfigurationError(
            f"{path}: [simulator] section missing: add it to run the simulator"
        )
    try:
        return SimulatorSettings.model_validate(section)
    except ValidationError as exc:
        raise ConfigurationError(_explain(path, exc, sources, prefix="simulator.")) from exc


def _read(
    path: Path | None, environ: Mapping[str, str] | None
) -> tuple[Path, dict[str, Any], dict[str, str]]:
    """The file's raw settings with `SEG_` overrides applied and paths resolved."""
    env = os.environ if environ is None else environ
    path = path or Path(env.get(CONFIG_ENV, str(DEFAULT_CONFIG)))
    try:
        with path.open("rb") as handle:
            raw: dict[str, Any] = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"{path}: configuration file not found; pass --config or set {CONFIG_ENV}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from exc

    sources: dict[str, str] = {}
    for variable, dotted in ENVIRONMENT_OVERRIDES.items():
        if variable in env:
            value: str | list[str] = env[variable]
            if dotted in _LIST_SETTINGS:
                value = [item.strip() for item in env[variable].split(",") if item.strip()]
            _set_dotted(raw, dotted, value)
            sources[dotted] = variable
    _resolve_paths(raw, path.parent.resolve(), env_overridden=sources)
    return path, raw, sources


_SECRET_SETTINGS = frozenset(
    {"audit.encryption_key", "audit.ssin_hash_key", "logging.ssin_hash_key"}
)
_PATH_LIST_SETTINGS = (("tls", "client_ca"), ("tls", "crl"), ("audit", "encryption_keys"))
_LIST_SETTINGS = frozenset(f"{section}.{key}" for section, key in _PATH_LIST_SETTINGS)


def _set_dotted(raw: dict[str, Any], dotted: str, value: str | list[str]) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _resolve_paths(raw: dict[str, Any], base: Path, env_overridden: Mapping[str, str]) -> None:
    """Paths in the file are relative to the file; paths from the environment to the cwd."""
    for section, key in _PATH_SETTINGS:
        node = raw.get(section)
        if isinstance(node, dict) and isinstance(node.get(key), str):
            origin = Path.cwd() if f"{section}.{key}" in env_overridden else base
            node[key] = (origin / node[key]).resolve()
    for section, key in _PATH_LIST_SETTINGS:
        node = raw.get(section)
        if isinstance(node, dict) and isinstance(node.get(key), list):
            origin = Path.cwd() if f"{section}.{key}" in env_overridden else base
            node[key] = [
                (origin / item).resolve() if isinstance(item, str) else item for item in node[key]
            ]


def _explain(path: Path, exc: ValidationError, sources: Mapping[str, str], prefix: str = "") -> str:
    lines = [f"{path}: invalid configuration ({exc.error_count()} problem(s)):"]
    for error in exc.errors():
        dotted = prefix + ".".join(str(part) for part in error["loc"])
        origin = f" (from {sources[dotted]})" if dotted in sources else ""
        if error["type"] == "missing":
            fix = "add this setting"
        elif error["type"] == "extra_forbidden":
            fix = "remove it or correct its spelling"
        elif dotted in _SECRET_SETTINGS:
            fix = "correct the value"  # a secret is never echoed
        else:
            fix = f"got {error.get('input')!r}; correct the value"
        lines.append(f"  [{dotted}]{origin}: {error['msg']}: {fix}")
    return "\n".join(lines)
