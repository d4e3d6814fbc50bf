"""Reading the configuration: a TOML file in `config/`, `SEG_` overrides, validation.

Relative paths in the file are relative to the file's own folder, paths from the environment
to the working directory. Environment variables override single settings (see
`ENVIRONMENT_OVERRIDES`); an invalid configuration raises `ConfigurationError`, whose message
names the file, the field (and the variable it came from) and the fix. The models and their
defaults are in `settings.py`.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.settings import Settings, SimulatorSettings

DEFAULT_CONFIG = Path("config/gateway.toml")
CONFIG_ENV = "SEG_CONFIG"


# Environment variable -> dotted setting. Kept explicit so that ops can read the full list.
ENVIRONMENT_OVERRIDES: Mapping[str, str] = {
    "SEG_PHASE": "gateway.phase",
    "SEG_ENVIRONMENT": "gateway.environment",
    "SEG_LISTEN_HOST": "gateway.listen.host",
    "SEG_LISTEN_PORT": "gateway.listen.port",
    "SEG_THREADS": "gateway.threads",
    "SEG_WORKERS": "gateway.workers",
    "SEG_REUSE_PORT": "gateway.reuse_port",
    "SEG_PIN_WORKERS": "gateway.pin_workers",
    "SEG_WORKER_CPU": "gateway.cpu",
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
    "SEG_SUPPLIER_TLS_CA": "supplier.tls.ca",  # comma-separated files
    "SEG_SUPPLIER_TLS_CERTIFICATE": "supplier.tls.certificate",
    "SEG_SUPPLIER_TLS_PRIVATE_KEY": "supplier.tls.private_key",
    "SEG_SUPPLIER_TLS_PINNED_SHA256": "supplier.tls.pinned_sha256",  # comma-separated
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
    "SEG_AUDIT_DECISION_TRAIL": "audit.decision_trail",
    "SEG_REGISTRY_BACKEND": "registry.backend",
    "SEG_REGISTRY_POSTGRESQL_DSN": "registry.postgresql_dsn",
    "SEG_REGISTRY_TIMEOUT": "registry.timeout_seconds",
    "SEG_REGISTRY_CONNECTIONS": "registry.connections",
    "SEG_LOG_LEVEL": "logging.level",
    "SEG_LOG_SSIN_HASH_KEY": "logging.ssin_hash_key",
    "SEG_SIMULATOR_HOST": "simulator.listen.host",
    "SEG_SIMULATOR_PORT": "simulator.listen.port",
    "SEG_SIMULATOR_CLOCK": "simulator.clock",
    "SEG_SIMULATOR_LATENCY_MS": "simulator.latency_ms",
}

# Settings that are paths, by dotted name (relative ones are resolved, see `_resolve_paths`).
_PATH_SETTINGS = (
    "tls.certificate",
    "tls.private_key",
    "tls.client_bindings",
    "admin.token_file",
    "data.dataset",
    "supplier.l302_mapping",
    "supplier.tls.certificate",
    "supplier.tls.private_key",
    "audit.sqlite_path",
    "audit.ssin_hash_key_file",
    "contract.wsdl",
    "contract.xsd_dir",
    "simulator.dataset",
    "simulator.l302_mapping",
    "simulator.tls.certificate",
    "simulator.tls.private_key",
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
    {
        "audit.encryption_key",
        "audit.ssin_hash_key",
        "logging.ssin_hash_key",
        "audit.postgresql_dsn",
        "registry.postgresql_dsn",
    }
)
_PATH_LIST_SETTINGS = (
    "tls.client_ca",
    "tls.crl",
    "audit.encryption_keys",
    "supplier.tls.ca",
    "simulator.tls.client_ca",
)
# Comma-separated in their SEG_ variable.
_LIST_SETTINGS = frozenset({*_PATH_LIST_SETTINGS, "supplier.tls.pinned_sha256"})


def _set_dotted(raw: dict[str, Any], dotted: str, value: str | list[str]) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _resolve_paths(raw: dict[str, Any], base: Path, env_overridden: Mapping[str, str]) -> None:
    """Paths in the file are relative to the file; paths from the environment to the cwd."""
    for dotted in (*_PATH_SETTINGS, *_PATH_LIST_SETTINGS):
        *parents, key = dotted.split(".")
        node: Any = raw
        for parent in parents:
            node = node.get(parent) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        origin = Path.cwd() if dotted in env_overridden else base
        value = node.get(key)
        if isinstance(value, str):
            node[key] = (origin / value).resolve()
        elif isinstance(value, list):
            node[key] = [(origin / v).resolve() if isinstance(v, str) else v for v in value]


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


def configuration_digest(settings: Settings) -> str:
    """The annex in force, as one short digest (issue #18): the dataset file (clients, code
    tables, funds) and the client bindings, read as bytes. Each exchange's decision trail
    names it, so the service desk knows which configuration decided, across reloads."""
    digest = hashlib.sha256()
    for path in (settings.data.dataset, settings.tls.client_bindings):
        if path is not None:
            digest.update(path.read_bytes())
            digest.update(b"\x00")
    return "sha256:" + digest.hexdigest()[:16]
