"""production.py: what environment = production refuses, each named (R-74, issue #13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from selfemployed_gateway.devpki import DevPki, ensure_dev_pki
from selfemployed_gateway.devsecrets import audit_key_files
from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.production import check_production, unsafe_settings
from selfemployed_gateway.settings import Settings
from tests.support.minting import name, self_signed_ca


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), ["cpas-namur"])


def production(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """A production configuration with none of the refused settings, then `sections`."""
    other_ca = self_signed_ca(tmp_path, "real-ca", name(O="Real Trust", CN="Real CA"))
    other_ca.key.chmod(0o600)
    bindings = tmp_path / "bindings.toml"
    bindings.write_text("# the institutions' certificates\n", encoding="utf-8")
    raw: dict[str, dict[str, Any]] = {
        "gateway": {
            "environment": "production",
            "public_url": "https://gateway.example.be/SelfEmployedService/v2/consult",
        },
        "tls": {
            "certificate": str(other_ca.cert),
            "private_key": str(other_ca.key),
            "client_ca": [str(other_ca.cert)],
            "client_bindings": str(bindings),
        },
        "supplier": {
            "url": "https://inasti.example.be/SelfEmployedService",
            "tls": {
                "ca": [str(other_ca.cert)],
                "certificate": str(other_ca.cert),
                "private_key": str(other_ca.key),
            },
        },
        "data": {"dataset": "dataset.json"},
        "contract": {"wsdl": "service.wsdl", "xsd_dir": "xsd"},
        "audit": {
            "sqlite_path": "audit.db",
            "encryption_keys": ["audit.key"],
            "ssin_hash_key_file": "ssin.key",
        },
        "logging": {"ssin_hash_key": "a-long-random-secret-for-the-log-tags-0123456789"},
    }
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return Settings.model_validate(raw)


def test_a_safe_production_configuration_passes(tmp_path: Path) -> None:
    assert unsafe_settings(production(tmp_path)) == []


def test_outside_production_nothing_is_refused(tmp_path: Path) -> None:
    settings = production(tmp_path, gateway={"environment": "acceptance", "clock": "2024-01-01"})
    assert unsafe_settings(settings) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"supplier": {"url": "http://inasti.example.be/x"}}, "supplier.url: 'http://"),
        (
            {"gateway": {"phase": "transitional"}, "supplier": {"l302_url": "http://x.example/"}},
            "supplier.l302_url: 'http://",
        ),
        ({"gateway": {"clock": "2024-05-01T10:00:00+02:00"}}, "gateway.clock (SEG_CLOCK)"),
        (
            {"supplier": {"tls": {}}},
            "supplier.tls.certificate (SEG_SUPPLIER_TLS_CERTIFICATE): unset",
        ),
        ({"gateway": {"public_url": None}}, "gateway.public_url (SEG_PUBLIC_URL): unset"),
        ({"tls": {"client_bindings": None}}, "tls.client_bindings: unset"),
        ({"logging": {"ssin_hash_key": None}}, "logging.ssin_hash_key (SEG_LOG_SSIN_HASH_KEY)"),
        ({"audit": {"encryption_keys": []}}, "audit.encryption_keys (SEG_AUDIT_ENCRYPTION_KEY)"),
        ({"audit": {"ssin_hash_key_file": None}}, "audit.ssin_hash_key_file"),
        ({"admin": {"listen": {"host": "0.0.0.0"}}}, "admin.listen.host: '0.0.0.0'"),
        # what a review found accepted (issue #13)
        ({"logging": {"ssin_hash_key": "x"}}, "logging.ssin_hash_key (SEG_LOG_SSIN_HASH_KEY): 1 "),
        ({"audit": {"purge_interval_seconds": 0}}, "audit.purge_interval_seconds"),
    ],
)
def test_each_unsafe_setting_is_named(
    tmp_path: Path, change: dict[str, dict[str, Any]], named: str
) -> None:
    found = unsafe_settings(production(tmp_path, **change))
    assert len(found) == 1 and found[0].startswith(named), found


def test_an_admin_listener_on_the_network_needs_a_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("0123456789abcdef0123\n", encoding="ascii")
    token.chmod(0o600)
    admin = {"listen": {"host": "0.0.0.0"}, "token_file": str(token)}
    assert unsafe_settings(production(tmp_path, admin=admin)) == []
    assert unsafe_settings(production(tmp_path, admin={"listen": {"host": "::1"}})) == []


def test_the_development_pki_is_refused(tmp_path: Path, pki: DevPki) -> None:
    tls = {
        "certificate": str(pki.server.cert),
        "private_key": str(pki.server.key),
        "client_ca": [str(pki.ca.cert)],
        "client_bindings": str(pki.bindings),
    }
    keys = audit_key_files(pki.root)
    audit = {"encryption_keys": [str(keys[0])], "ssin_hash_key_file": str(keys[1])}
    supplier = {
        "url": "https://inasti.example.be/SelfEmployedService",
        "tls": {
            "ca": [str(pki.ca.cert)],
            "certificate": str(pki.gateway_client.cert),
            "private_key": str(pki.gateway_client.key),
        },
    }
    found = unsafe_settings(production(tmp_path, tls=tls, audit=audit, supplier=supplier))
    assert [line.split(":")[0] for line in found] == [
        "tls.client_ca",
        "tls.certificate",
        "tls.client_bindings",
        "tls.private_key",
        "supplier.tls.private_key",
        "audit.encryption_keys",
        "audit.ssin_hash_key_file",
        "supplier.tls.ca",
        "supplier.tls.certificate",
    ]


def test_check_production_lists_them_all_in_one_error(tmp_path: Path) -> None:
    settings = production(
        tmp_path, supplier={"url": "http://x.example/y"}, gateway={"clock": "2024-01-01"}
    )
    with pytest.raises(ConfigurationError, match=r"refuses 2 setting\(s\):\n  supplier.url"):
        check_production(settings)


def test_a_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    key.write_text("k", encoding="ascii")
    key.chmod(0o644)
    found = unsafe_settings(production(tmp_path, audit={"encryption_keys": [str(key)]}))
    assert found == [
        f"audit.encryption_keys: {key} is readable by others (mode 0644): chmod 0600 "
        "(or 0640 for a group that runs the gateway)"
    ]
    key.chmod(0o640)
    assert unsafe_settings(production(tmp_path, audit={"encryption_keys": [str(key)]})) == []
