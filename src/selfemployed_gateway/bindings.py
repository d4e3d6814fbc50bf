"""Which certificate identifies which client (R-11, R-12): subject and issuer, maybe pinned.

The annex names clients, not certificates. The binding of each client to its certificate is
the gateway's own configuration, beside the annex (`tls.client_bindings`, a TOML file with
one table per client id), written by `dev-pki` for the development PKI:

    [cpas-namur]
    subject = "CN=cpas-namur,O=selfemployed-gateway development"
    issuer = "CN=selfemployed-gateway development CA,O=selfemployed-gateway development"
    sha256 = ["3f1c…"]   # optional: pinned fingerprints, two during a rotation

A certificate identifies a client when its subject *and* its issuer are that binding's names
(compared as X.509 names: attribute by attribute, ASCII case and runs of spaces folded, after
RFC 5280 §7.1 — no Unicode folding, so that no look-alike matches) and, if fingerprints are
pinned, its SHA-256 is one of them. A common name alone never identifies anybody once
bindings are configured; production requires them (`production.py`).
"""

from __future__ import annotations

import functools
import json
import re
import string
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.files import write_file
from selfemployed_gateway.records import ClientCertificate

NameKey = tuple[tuple[tuple[str, str], ...], ...]
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_SPACES = re.compile(" +")

# RFC 4514 §3: attribute type names are case-insensitive ("cn=" is "CN=").
_LOWER_CASE_TYPES = {
    "cn": NameOID.COMMON_NAME,
    "l": NameOID.LOCALITY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "o": NameOID.ORGANIZATION_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "c": NameOID.COUNTRY_NAME,
    "street": NameOID.STREET_ADDRESS,
    "dc": NameOID.DOMAIN_COMPONENT,
    "uid": NameOID.USER_ID,
}


@functools.lru_cache(maxsize=1024)
def name_key(rfc4514: str) -> NameKey | None:
    """An X.509 name as compared (RFC 5280 §7.1, simplified RFC 4518 preparation): per RDN in
    order, its attributes by OID with case and runs of spaces folded. None: not a name.

    Remembered: every exchange names its client twice (R-28 admission, then R-11)."""
    try:
        name = x509.Name.from_rfc4514_string(rfc4514, _LOWER_CASE_TYPES)
    except ValueError:
        return None
    return tuple(
        tuple(sorted((a.oid.dotted_string, _prepared(str(a.value))) for a in rdn))
        for rdn in name.rdns
    )


def _prepared(value: str) -> str:
    """ASCII letters case-folded and runs of ASCII spaces made one, nothing more: Unicode case
    folding or whitespace would make look-alikes equal ("ſ" U+017F folds to "s", U+00A0 and
    control characters would count as spaces), and a look-alike must not impersonate."""
    return _SPACES.sub(" ", value.strip(" ")).translate(_ASCII_LOWER)


def _a_name(value: str) -> str:
    if name_key(value) is None:
        raise ValueError(f"not an RFC 4514 distinguished name: {value!r}")
    return value


def _fingerprints(values: tuple[str, ...]) -> tuple[str, ...]:
    prepared = tuple(value.replace(":", "").lower() for value in values)
    for value in prepared:
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ValueError(f"not a SHA-256 fingerprint (64 hex digits): {value!r}")
    return prepared


class CertificateBinding(BaseModel):
    """The certificate of one client: its subject and issuer DNs, maybe pinned fingerprints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: Annotated[str, AfterValidator(_a_name)]
    issuer: Annotated[str, AfterValidator(_a_name)]
    sha256: Annotated[tuple[str, ...], AfterValidator(_fingerprints)] = ()

    def matches(self, certificate: ClientCertificate) -> bool:
        if certificate.issuer is None:
            return False
        return (
            name_key(certificate.subject) == name_key(self.subject)
            and name_key(certificate.issuer) == name_key(self.issuer)
            and (not self.sha256 or certificate.sha256 in self.sha256)
        )


ClientBindings = Mapping[str, CertificateBinding]


def load_bindings(path: Path) -> ClientBindings:
    """The bindings file, validated; `ConfigurationError` naming the file and the client."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as error:
        raise ConfigurationError(f"{path}: client bindings cannot be read: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: client bindings are not valid TOML: {error}") from error
    bindings: dict[str, CertificateBinding] = {}
    for client_id, table in raw.items():
        try:
            bindings[client_id] = CertificateBinding.model_validate(table)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'table'}: {e['msg']}"
                for e in error.errors()
            )
            raise ConfigurationError(f"{path}: [{client_id}]: {problems}") from error
    return bindings


def binding_problems(bindings: ClientBindings | None, client_ids: Iterable[str]) -> list[str]:
    """For `check-config`: clients bound ambiguously, or not at all, and bindings of nobody."""
    ids = list(client_ids)
    if bindings is None:
        return [
            f"client {client_id}: no certificate binding (tls.client_bindings unset): any "
            "certificate of any trusted CA with this common name would identify it"
            for client_id in ids
        ]
    problems = [
        f"client {client_id}: no certificate binding: it can never be identified (MSG00015)"
        for client_id in ids
        if client_id not in bindings
    ]
    problems.extend(
        f"tls.client_bindings: [{client_id}]: no client {client_id!r} in the annex"
        for client_id in bindings
        if client_id not in ids
    )
    bound = sorted(bindings.items())
    for i, (first, one) in enumerate(bound):
        for second, other in bound[i + 1 :]:
            same_names = (name_key(one.subject), name_key(one.issuer)) == (
                name_key(other.subject),
                name_key(other.issuer),
            )
            pinned_apart = bool(one.sha256 and other.sha256) and not (
                set(one.sha256) & set(other.sha256)
            )
            if same_names and not pinned_apart:
                problems.append(
                    f"tls.client_bindings: [{first}] and [{second}]: one certificate "
                    f"({one.subject!r} issued by {one.issuer!r}) would identify both: pin "
                    "distinct sha256 fingerprints or give them distinct subjects"
                )
    return problems


def write_bindings(path: Path, certificates: Mapping[str, x509.Certificate]) -> None:
    """Bind each client id to exactly this certificate (subject, issuer, fingerprint)."""
    lines = ["# Written by `selfemployed-gateway dev-pki`: which certificate is which client.\n"]
    for client_id, certificate in certificates.items():
        fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
        lines.append(
            f"\n[{_toml_key(client_id)}]\n"
            # A JSON string is a TOML basic string, escapes included.
            f"subject = {json.dumps(certificate.subject.rfc4514_string())}\n"
            f"issuer = {json.dumps(certificate.issuer.rfc4514_string())}\n"
            f'sha256 = ["{fingerprint}"]\n'
        )
    text = "".join(lines)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return  # unchanged: not rewritten
    write_file(path, text.encode("utf-8"), 0o644)


def _toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else json.dumps(key)
