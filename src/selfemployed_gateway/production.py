"""What `gateway.environment = "production"` refuses (R-74, issue #13), each named at start-up.

Development conveniences that are unsafe with real people's data: a supplier reached without
TLS, a frozen clock, the development PKI and its keys, NISS hashes that do not correlate (or
none), messages stored in clear, clients identified by common name, a WSDL address taken from
the request, an admin listener open to the network without authentication. `unsafe_settings`
lists every one found; `Gateway.build`, a SIGHUP reload and `check-config` refuse them.
"""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from selfemployed_gateway.devpki import CA_COMMON_NAME, ROGUE_CA_COMMON_NAME
from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.settings import Phase, Settings

PRODUCTION = "production"
MIN_SECRET_CHARACTERS = 32
_DEVELOPMENT_CAS = frozenset({CA_COMMON_NAME, ROGUE_CA_COMMON_NAME})
# The first line dev-pki writes in its bindings file (bindings.write_bindings).
_DEV_BINDINGS_MARK = "# Written by `selfemployed-gateway dev-pki`"


def unsafe_settings(settings: Settings) -> list[str]:
    """Every setting production refuses, one line each naming it; [] outside production."""
    if settings.gateway.environment != PRODUCTION:
        return []
    found: list[str] = []
    supplier = settings.supplier
    urls = [("supplier.url", supplier.url)]
    if settings.gateway.phase is Phase.TRANSITIONAL:  # the L302 endpoint is called
        urls.append(("supplier.l302_url", supplier.l302_url or ""))
    for name, url in urls:
        if not url.startswith("https://"):
            found.append(f"{name}: {url!r} is not https: INASTI is called over verified TLS")
    if settings.gateway.clock is not None:
        found.append("gateway.clock (SEG_CLOCK): a clock override fixes the dates of R-30 … R-36")
    if settings.gateway.public_url is None:
        found.append(
            "gateway.public_url (SEG_PUBLIC_URL): unset: the WSDL's address must be the "
            "published one, never taken from a request"
        )
    found.extend(_development_pki(settings))
    supplier_tls = settings.supplier.tls
    if supplier_tls.certificate is None:
        found.append(
            "supplier.tls.certificate (SEG_SUPPLIER_TLS_CERTIFICATE): unset: INASTI is called "
            "with mutual TLS (R-61), the gateway presents its certificate"
        )
    found.extend(_holding_development_ca("supplier.tls.ca", supplier_tls.ca))
    if supplier_tls.certificate is not None:
        found.extend(
            _issued_by_development_ca("supplier.tls.certificate", supplier_tls.certificate)
        )
    if settings.tls.client_bindings is None:
        found.append(
            "tls.client_bindings: unset: clients would be identified by common name (R-11)"
        )
    log_key = settings.logging.ssin_hash_key
    if log_key is None:
        found.append(
            "logging.ssin_hash_key (SEG_LOG_SSIN_HASH_KEY): unset: each process would tag a "
            "NISS with its own random key"
        )
    elif len(log_key) < MIN_SECRET_CHARACTERS:
        found.append(
            f"logging.ssin_hash_key (SEG_LOG_SSIN_HASH_KEY): {len(log_key)} characters: a "
            f"short key lets anyone reverse the tags; use at least {MIN_SECRET_CHARACTERS} "
            "random characters (selfemployed-gateway audit new-key)"
        )
    audit = settings.audit
    if audit.encryption_key is None and not audit.encryption_keys:
        found.append(
            "audit.encryption_keys (SEG_AUDIT_ENCRYPTION_KEY): none: messages and decision "
            "trails would be stored in clear"
        )
    if audit.ssin_hash_key is None and audit.ssin_hash_key_file is None:
        found.append(
            "audit.ssin_hash_key_file (SEG_AUDIT_SSIN_HASH_KEY): unset: `audit find --ssin` "
            "could not work"
        )
    if audit.purge_interval_seconds == 0:
        found.append(
            "audit.purge_interval_seconds (SEG_AUDIT_PURGE_INTERVAL): 0: retention would never "
            "be applied"
        )
    admin = settings.admin
    if not _loopback(admin.listen.host) and admin.token_file is None:
        found.append(
            f"admin.listen.host: {admin.listen.host!r} is reachable from the network and "
            "admin.token_file is unset: /metrics would be open to anyone"
        )
    found.extend(_loose_secret_files(settings))
    return found


def _loose_secret_files(settings: Settings) -> list[str]:
    """Key and token files anybody but their owner (and its group) could read."""
    secrets: list[tuple[str, Path | None]] = [
        ("tls.private_key", settings.tls.private_key),
        ("supplier.tls.private_key", settings.supplier.tls.private_key),
        ("audit.ssin_hash_key_file", settings.audit.ssin_hash_key_file),
        ("admin.token_file", settings.admin.token_file),
    ]
    secrets += [("audit.encryption_keys", path) for path in settings.audit.encryption_keys]
    found = []
    for name, path in secrets:
        try:
            mode = path.stat().st_mode if path is not None else 0
        except OSError:
            continue  # a missing file is reported where it is read
        if mode & 0o007:
            found.append(
                f"{name}: {path} is readable by others (mode {stat.S_IMODE(mode):04o}): "
                "chmod 0600 (or 0640 for a group that runs the gateway)"
            )
    return found


def check_production(settings: Settings) -> None:
    """Raise `ConfigurationError` listing every unsafe setting of a production configuration."""
    found = unsafe_settings(settings)
    if found:
        raise ConfigurationError(
            f"{settings.source}: environment = production refuses {len(found)} setting(s):\n"
            + "\n".join(f"  {line}" for line in found)
        )


def _development_pki(settings: Settings) -> list[str]:
    found: list[str] = []
    tls = settings.tls
    found.extend(_holding_development_ca("tls.client_ca", tls.client_ca))
    found.extend(_issued_by_development_ca("tls.certificate", tls.certificate))
    if tls.client_bindings is not None and _starts_with(tls.client_bindings, _DEV_BINDINGS_MARK):
        found.append(f"tls.client_bindings: {tls.client_bindings} was written by dev-pki")
    audit = settings.audit
    keys = [("tls.private_key", tls.private_key)]
    if settings.supplier.tls.private_key is not None:
        keys.append(("supplier.tls.private_key", settings.supplier.tls.private_key))
    keys += [("audit.encryption_keys", path) for path in audit.encryption_keys]
    if audit.ssin_hash_key_file is not None:
        keys.append(("audit.ssin_hash_key_file", audit.ssin_hash_key_file))
    for name, path in keys:
        if _in_development_pki(path):
            found.append(f"{name}: {path} is a key of the development PKI folder")
    return found


def _holding_development_ca(name: str, paths: list[Path]) -> list[str]:
    return [
        f"{name}: {path} holds the development CA ({subject!r})"
        for path in paths
        for subject in _subjects(path)
        if subject in _DEVELOPMENT_CAS
    ]


def _issued_by_development_ca(name: str, path: Path) -> list[str]:
    if _issuer(path) in _DEVELOPMENT_CAS:
        return [f"{name}: {path} is issued by the development CA"]
    return []


def _in_development_pki(path: Path) -> bool:
    """A file beside the development CA (dev-pki writes its keys there)."""
    folder = path.parent
    return _starts_with(folder / "client-bindings.toml", _DEV_BINDINGS_MARK) or any(
        subject in _DEVELOPMENT_CAS for subject in _subjects(folder / "ca.crt")
    )


def _subjects(path: Path) -> list[str]:
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError):
        return []  # unreadable files are the TLS set-up's to report
    return [_common_name(c.subject) for c in certificates]


def _issuer(path: Path) -> str | None:
    try:
        return _common_name(x509.load_pem_x509_certificate(path.read_bytes()).issuer)
    except (OSError, ValueError):
        return None


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def _starts_with(path: Path, mark: str) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(len(mark)) == mark
    except OSError:
        return False


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
