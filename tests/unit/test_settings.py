"""Configuration: TOML in config/, SEG_ overrides, errors a human can act on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from selfemployed_gateway.configuration import load_settings, load_simulator_settings
from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.settings import Phase
from tests.support.paths import PROJECT

DEFAULT = PROJECT / "config" / "gateway.toml"


def test_the_development_configuration_loads() -> None:
    settings = load_settings(DEFAULT, environ={})
    assert settings.gateway.phase is Phase.FINAL
    assert (settings.gateway.listen.host, settings.gateway.listen.port) == ("127.0.0.1", 4520)
    assert settings.gateway.path == "/SelfEmployedService/v2/consult"
    assert (settings.admin.listen.host, settings.admin.listen.port) == ("127.0.0.1", 9520)
    assert settings.supplier.timeout_seconds == 5
    assert settings.data.dataset == PROJECT / "config" / "reference-dataset.json"
    assert settings.tls.client_ca == [PROJECT / "var" / "pki" / "ca.crt"]
    assert settings.simulator is not None and settings.simulator.listen.port == 4580


def test_environment_overrides_phase_and_supplier_timeout() -> None:
    settings = load_settings(
        DEFAULT, environ={"SEG_PHASE": "transitional", "SEG_SUPPLIER_TIMEOUT": "2.5"}
    )
    assert settings.gateway.phase is Phase.TRANSITIONAL
    assert settings.supplier.timeout_seconds == 2.5


def test_config_path_from_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="configuration file not found"):
        load_settings(environ={"SEG_CONFIG": str(tmp_path / "missing.toml")})


def test_invalid_values_name_file_field_source_and_fix() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(DEFAULT, environ={"SEG_PHASE": "middle", "SEG_SUPPLIER_TIMEOUT": "-1"})
    message = str(raised.value)
    assert str(DEFAULT) in message
    assert "[gateway.phase] (from SEG_PHASE)" in message
    assert "'final' or 'transitional'" in message
    assert "[supplier.timeout_seconds] (from SEG_SUPPLIER_TIMEOUT)" in message


def test_unknown_and_missing_settings_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    text = DEFAULT.read_text(encoding="utf-8").replace("[supplier]", "[supplier]\nurll = 'x'")
    config.write_text(re.sub(r"(?m)^url = .*$", "", text), encoding="utf-8")
    with pytest.raises(ConfigurationError) as raised:
        load_settings(config, environ={})
    message = str(raised.value)
    assert "[supplier.url]: Field required: add this setting" in message
    assert (
        "[supplier.urll]: Extra inputs are not permitted: remove it or correct its spelling"
        in message
    )


def test_not_toml(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[gateway\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings(config, environ={})


def test_client_ca_list_from_environment(tmp_path: Path) -> None:
    settings = load_settings(
        DEFAULT, environ={"SEG_TLS_CLIENT_CA": f"{tmp_path}/a.crt, {tmp_path}/b.crt"}
    )
    assert settings.tls.client_ca == [tmp_path / "a.crt", tmp_path / "b.crt"]


def test_crl_paths_are_relative_to_the_file_or_the_cwd(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        DEFAULT.read_text(encoding="utf-8").replace(
            'client_ca = ["../var/pki/ca.crt"]\n',
            'client_ca = ["../var/pki/ca.crt"]\ncrl = ["pki/ca.crl"]\n',
            1,  # [tls]'s, not [simulator.tls]'s
        ),
        encoding="utf-8",
    )
    assert load_settings(config, environ={}).tls.crl == [tmp_path / "pki" / "ca.crl"]
    from_env = load_settings(config, environ={"SEG_TLS_CRL": "relative.crl"})
    assert from_env.tls.crl == [Path.cwd() / "relative.crl"]


def test_the_simulator_needs_only_its_section(tmp_path: Path) -> None:
    config = tmp_path / "simulator.toml"
    config.write_text(
        '[simulator]\ndataset = "data.json"\nlatency_ms = 5\n[simulator.listen]\nport = 0\n',
        encoding="utf-8",
    )
    settings = load_simulator_settings(config, environ={"SEG_SIMULATOR_LATENCY_MS": "7"})
    assert settings.dataset == tmp_path / "data.json"
    assert (settings.latency_ms, settings.listen.port) == (7, 0)
    with pytest.raises(ConfigurationError, match=r"\[simulator.latency_ms\] \(from SEG_"):
        load_simulator_settings(config, environ={"SEG_SIMULATOR_LATENCY_MS": "-1"})
    config.write_text("[gateway]\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="section missing"):
        load_simulator_settings(config, environ={})


def test_supplier_and_simulator_tls_paths_resolve_beside_the_file() -> None:
    """Issue #14: make run calls the simulator over mutual TLS (nested path settings)."""
    settings = load_settings(DEFAULT, environ={})
    pki = (DEFAULT.parent / ".." / "var" / "pki").resolve()
    assert settings.supplier.url.startswith("https://")
    assert settings.supplier.tls.ca == [pki / "ca.crt"]
    assert settings.supplier.tls.certificate == pki / "gateway-client.crt"
    assert settings.supplier.tls.private_key == pki / "gateway-client.key"
    assert settings.simulator is not None and settings.simulator.tls is not None
    assert settings.simulator.tls.certificate == pki / "inasti.crt"
    assert settings.simulator.tls.client_ca == [pki / "ca.crt"]
    pinned = load_settings(
        DEFAULT, environ={"SEG_SUPPLIER_TLS_PINNED_SHA256": "AB:" * 31 + "AB, " + "cd" * 32}
    )
    assert pinned.supplier.tls.pinned_sha256 == ["ab" * 32, "cd" * 32]


def test_a_supplier_certificate_needs_its_key(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    text = DEFAULT.read_text(encoding="utf-8")
    config.write_text(
        text.replace('private_key = "../var/pki/gateway-client.key"', "", 1), encoding="utf-8"
    )
    with pytest.raises(ConfigurationError, match="certificate and private_key go together"):
        load_settings(config, environ={})


def test_pin_workers_and_cpu_come_from_the_environment() -> None:
    settings = load_settings(DEFAULT, environ={"SEG_WORKERS": "2", "SEG_PIN_WORKERS": "true"})
    assert (settings.gateway.workers, settings.gateway.pin_workers, settings.gateway.cpu) == (
        2,
        True,
        None,
    )
    worker = load_settings(DEFAULT, environ={"SEG_PIN_WORKERS": "false", "SEG_WORKER_CPU": "1"})
    assert (worker.gateway.pin_workers, worker.gateway.cpu) == (False, 1)


@pytest.mark.parametrize(
    "environ",
    [
        {"SEG_WORKERS": "2", "SEG_WORKER_CPU": "0"},
        {"SEG_PIN_WORKERS": "true", "SEG_WORKER_CPU": "0"},
    ],
)
def test_one_cpu_for_several_workers_is_refused(environ: dict[str, str]) -> None:
    # Every worker reads the same file: a single `cpu` would put them all on one CPU.
    with pytest.raises(ConfigurationError, match=r"gateway\.cpu pins a single process"):
        load_settings(DEFAULT, environ=environ)
