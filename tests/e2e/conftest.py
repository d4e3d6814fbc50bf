"""End-to-end fixtures: the real gateway and INASTI simulator over real mutual TLS.

The servers are started once per session on free ports of 127.0.0.1 (so a running
`make run` never collides), with the development PKI created in a temporary folder and the
gateway's clock frozen, so that date rules are reproducible.
"""

from __future__ import annotations

import json
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from selfemployed_gateway.dataset import load_dataset
from selfemployed_gateway.devpki import DevPki, ensure_dev_pki
from selfemployed_gateway.devsecrets import audit_key_files
from tests.support.processes import PROJECT, Server, start, write_config

DATASET = PROJECT / "config" / "reference-dataset.json"
FROZEN_NOW = "2026-11-26T10:00:00+01:00"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    clients = [client.id for client in load_dataset(DATASET).clients]
    return ensure_dev_pki(tmp_path_factory.mktemp("pki"), clients)


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    config = write_config(
        tmp_path_factory.mktemp("simulator") / "simulator.toml",
        simulator_config(),
    )
    server = start(config, "simulate-inasti", env={"SEG_SIMULATOR_CLOCK": FROZEN_NOW})
    yield server
    server.stop()


def simulator_config() -> dict[str, dict[str, Any]]:
    # The simulator reads only the [simulator] section of a configuration file.
    return {"simulator": {"dataset": str(DATASET), "listen": {"host": "127.0.0.1", "port": 0}}}


def gateway_config(
    pki: DevPki,
    supplier_url: str,
    dataset: Path = DATASET,
    audit: Path | None = None,
    **gateway: object,
) -> dict[str, dict[str, Any]]:
    audit = audit or Path(tempfile.mkdtemp(prefix="seg-audit-")) / "audit.sqlite3"
    return {
        "gateway": {
            "clock": FROZEN_NOW,
            "validate_responses": True,
            "listen": {"host": "127.0.0.1", "port": 0},
            # Tests call from 127.0.0.1 with a new connection per call, far faster than an
            # institution reconnects; tests/e2e/test_connections.py checks the default bound.
            "new_connections_per_peer_per_second": 10_000,
            **gateway,
        },
        "admin": {"listen": {"host": "127.0.0.1", "port": 0}},
        "tls": {
            "certificate": str(pki.server.cert),
            "private_key": str(pki.server.key),
            "client_ca": [str(pki.ca.cert)],
            "client_bindings": str(pki.bindings),
        },
        "supplier": {"url": supplier_url, "timeout_seconds": 2},
        "data": {"dataset": str(dataset)},
        "contract": {
            "wsdl": str(PROJECT / "wsdl" / "SelfEmployedV2.wsdl"),
            "xsd_dir": str(PROJECT / "xsd"),
        },
        "audit": {
            "backend": "sqlite",
            "sqlite_path": str(audit),
            "encryption_keys": [str(audit_key_files(pki.root)[0])],
            "ssin_hash_key_file": str(audit_key_files(pki.root)[1]),
        },
    }


@pytest.fixture(scope="session")
def gateway(
    pki: DevPki, simulator: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("gateway")
    config = write_config(
        folder / "gateway.toml",
        gateway_config(pki, simulator.urls["simulator"], audit=folder / "audit.sqlite3"),
    )
    server = start(config, "serve")
    yield server
    server.stop()


@dataclass(frozen=True)
class Caller:
    """An institution calling the gateway with its client certificate."""

    url: str
    context: ssl.SSLContext

    def post(self, body: bytes | str, soap_action: str | None = None) -> httpx.Response:
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if soap_action is not None:
            headers["SOAPAction"] = soap_action
        content = body.encode() if isinstance(body, str) else body
        with httpx.Client(verify=self.context, timeout=15) as client:
            return client.post(self.url, content=content, headers=headers)


def tls_context(pki: DevPki, client_id: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    if client_id is not None:
        pair = pki.clients[client_id]
        context.load_cert_chain(str(pair.cert), str(pair.key))
    return context


@pytest.fixture(scope="session")
def as_client(pki: DevPki, gateway: Server) -> CallerFactory:
    return CallerFactory(pki, gateway.urls["soap"])


@dataclass(frozen=True)
class CallerFactory:
    pki: DevPki
    url: str

    def __call__(self, client_id: str) -> Caller:
        return Caller(self.url, tls_context(self.pki, client_id))


@dataclass
class GatewayFactory:
    """More gateways beside the main one: another clock, dataset, supplier or environment
    (each started once, on free ports)."""

    pki: DevPki
    simulator: Server
    folder: Path
    started: dict[tuple[str, ...], Server]

    def server(
        self,
        clock: str = FROZEN_NOW,
        dataset: Path = DATASET,
        supplier_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Server:
        url = supplier_url or self.simulator.urls["simulator"]
        key = (clock, str(dataset), url, json.dumps(env, sort_keys=True))
        if key not in self.started:
            audit = self.folder / f"audit-{len(self.started)}.sqlite3"
            config = gateway_config(self.pki, url, dataset, audit, clock=clock)
            # The L302 endpoint lives beside INASTI's service on the same simulator.
            config["supplier"]["l302_url"] = url.rsplit("/", 1)[0] + "/L302"
            config["supplier"]["l302_mapping"] = str(PROJECT / "config" / "l302-mapping.toml")
            path = write_config(self.folder / f"gateway-{len(self.started)}.toml", config)
            self.started[key] = start(path, "serve", env=env)
        return self.started[key]

    def __call__(
        self,
        clock: str = FROZEN_NOW,
        dataset: Path = DATASET,
        supplier_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> CallerFactory:
        return CallerFactory(self.pki, self.server(clock, dataset, supplier_url, env).urls["soap"])


@pytest.fixture(scope="session")
def gateway_with(
    pki: DevPki, simulator: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayFactory]:
    factory = GatewayFactory(pki, simulator, tmp_path_factory.mktemp("gateways"), {})
    yield factory
    for server in factory.started.values():
        server.stop()


@dataclass
class SimulatorFactory:
    """More INASTI simulators: another clock (R-64 fund window) or dataset."""

    folder: Path
    started: dict[tuple[str, str], Server]

    def __call__(self, clock: str = FROZEN_NOW, dataset: Path = DATASET) -> Server:
        key = (clock, str(dataset))
        if key not in self.started:
            config = simulator_config()
            config["simulator"]["dataset"] = str(dataset)
            path = write_config(self.folder / f"simulator-{len(self.started)}.toml", config)
            self.started[key] = start(path, "simulate-inasti", env={"SEG_SIMULATOR_CLOCK": clock})
        return self.started[key]


@pytest.fixture(scope="session")
def simulator_with(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorFactory]:
    factory = SimulatorFactory(tmp_path_factory.mktemp("simulators"), {})
    yield factory
    for server in factory.started.values():
        server.stop()
