"""The console script `selfemployed-gateway`: serve, simulate-inasti, dev, check-config, dev-pki.

`serve` runs the gateway; `simulate-inasti` runs the built-in INASTI simulator; `dev` runs
both in one process for `make run`, after creating the development PKI when it is missing.
Each prints one JSON line `{"event": "ready", …}` on stdout once its ports are open.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred

from selfemployed_gateway.affinity import allowed_cpus, pin_process, worker_cpus
from selfemployed_gateway.audit.commands import add_audit_commands
from selfemployed_gateway.configuration import load_settings, load_simulator_settings
from selfemployed_gateway.dataset import DatasetError, load_dataset
from selfemployed_gateway.errors import AuditError, ConfigurationError
from selfemployed_gateway.logs import configure_logging
from selfemployed_gateway.privacy import set_key as set_ssin_key
from selfemployed_gateway.registry.commands import add_registry_commands
from selfemployed_gateway.server.gateway import Gateway, event_loop
from selfemployed_gateway.settings import Phase, Settings, SimulatorSettings
from selfemployed_gateway.suppliers.l302.mapping import L302MappingError, load_l302_mapping
from selfemployed_gateway.tls import TlsConfigurationError

log = logging.getLogger("selfemployed_gateway")

DEV_PKI = Path("var/pki")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    configure_logging(arguments.log_level or "info")
    try:
        result: int = arguments.command(arguments)
        return result
    except (ConfigurationError, AuditError) as error:
        print(f"selfemployed-gateway: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="selfemployed-gateway",
        description="BCSS SelfEmployedService v2 gateway (consultCareer, consultContributions)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="configuration file (default: $SEG_CONFIG or config/gateway.toml)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway")
    serve.set_defaults(command=_serve)

    simulate = commands.add_parser("simulate-inasti", help="run the INASTI simulator")
    simulate.set_defaults(command=_simulate)

    dev = commands.add_parser(
        "dev", help="development: create the PKI if missing, run simulator and gateway"
    )
    dev.add_argument("--pki", type=Path, default=DEV_PKI)
    dev.set_defaults(command=_dev)

    check = commands.add_parser(
        "check-config",
        help="check configuration and annex before deployment (exit 1 on any problem)",
    )
    check.set_defaults(command=_check_config)

    add_audit_commands(commands, _settings)
    add_registry_commands(commands, _settings)

    pki = commands.add_parser("dev-pki", help="create the development PKI if missing")
    pki.add_argument("--pki", type=Path, default=DEV_PKI)
    pki.set_defaults(command=_dev_pki)
    return parser


def _reactor() -> Any:
    """Twisted's asyncio reactor: the pipeline awaits the supplier (httpx) on its loop.
    Installed late: installing a reactor is a side effect that check-only commands avoid."""
    from twisted.internet import asyncioreactor

    asyncioreactor.install(asyncio.new_event_loop())
    from twisted.internet import reactor

    return reactor


def _simulator_reactor() -> Any:
    """Twisted's default reactor (epoll on Linux), for `simulate-inasti` alone: the simulator
    awaits nothing of asyncio, and asyncio's loop under Twisted cost it a fifth more CPU per
    call (0.15–0.19 -> 0.12–0.15 ms at 16 connections, issue #17), CPU taken from the gateway
    it serves when they share a machine. `dev` runs both in one process, on asyncio's."""
    from twisted.internet import default

    default.install()
    from twisted.internet import reactor

    return reactor


def _settings(arguments: argparse.Namespace) -> Settings:
    settings = load_settings(arguments.config)
    set_ssin_key(settings.logging.ssin_hash_key)
    if arguments.log_level is None:
        logging.getLogger().setLevel(getattr(logging, settings.logging.level.upper()))
    return settings


def _reload_on_sighup(
    reactor: Any, gateway: Gateway, children: Sequence[subprocess.Popen[bytes]] = ()
) -> None:
    """SIGHUP reloads annex, code tables and trust store (on the reactor thread), here and
    in every worker process."""

    def reload(_signum: int, _frame: object) -> None:
        for child in children:
            child.send_signal(signal.SIGHUP)
        reactor.callFromThread(gateway.reload, reactor)

    signal.signal(signal.SIGHUP, reload)


def _start_workers(
    arguments: argparse.Namespace,
    settings: Settings,
    soap_port: Any,
    cpus: Sequence[int | None],
) -> list[subprocess.Popen[bytes]]:
    """`gateway.workers` > 1: more `serve` processes on the same SOAP port (SO_REUSEPORT),
    each with its own admin port: the next ones up (any free one when configured as 0), and
    its CPU of `cpus` (None: not pinned; `cpus[0]` is this process's). Each worker is a
    target of its own for Prometheus; all share the audit trail."""
    children: list[subprocess.Popen[bytes]] = []
    admin = settings.admin.listen.port
    for index in range(1, len(cpus)):
        environment = {
            **os.environ,
            "SEG_WORKERS": "1",
            "SEG_REUSE_PORT": "true",
            "SEG_PIN_WORKERS": "false",
            "SEG_LISTEN_PORT": str(soap_port.getHost().port),
            "SEG_ADMIN_PORT": str(admin + index if admin else 0),
        }
        cpu = cpus[index]
        if cpu is not None:
            environment["SEG_WORKER_CPU"] = str(cpu)
        command = [sys.executable, "-m", "selfemployed_gateway.cli"]
        if arguments.config is not None:
            command += ["--config", str(arguments.config)]
        children.append(subprocess.Popen([*command, "serve"], env=environment))
    return children


def _stop_workers(reactor: Any, children: Sequence[subprocess.Popen[bytes]]) -> Any:
    """Ask the worker processes to stop (each drains its own exchanges) and wait for them off
    the event loop: this process's exchanges in flight go on meanwhile."""
    for child in children:
        child.terminate()
    if not children:
        return None
    loop = event_loop(reactor)

    async def reap() -> None:
        for child in children:
            try:
                await loop.run_in_executor(None, child.wait, 10)
            except subprocess.TimeoutExpired:
                child.kill()

    return Deferred.fromFuture(loop.create_task(reap()))


def _serve(arguments: argparse.Namespace) -> int:
    reactor = _reactor()

    settings = _settings(arguments)
    _raise_descriptor_limit(settings)
    workers = settings.gateway.workers
    if workers > 1:
        settings = settings.model_copy(
            update={"gateway": settings.gateway.model_copy(update={"reuse_port": True})}
        )
    cpus = _process_cpus(settings)
    if cpus[0] is not None:  # before the gateway starts its threads: they inherit it too
        pin_process(cpus[0])
    gateway = Gateway.build(settings)
    soap_port, admin_port = gateway.listen(reactor)
    children = _start_workers(arguments, settings, soap_port, cpus)
    _reload_on_sighup(reactor, gateway, children)
    reactor.addSystemEventTrigger("before", "shutdown", lambda: _stop_workers(reactor, children))
    _ready(
        soap=_soap_url(gateway.settings, soap_port),
        admin=_admin_url(admin_port),
        workers=str(workers),
    )
    _freeze_start_up_objects()
    reactor.run()
    return 0


def _process_cpus(settings: Settings) -> list[int | None]:
    """The CPU of this process and of each worker it starts (None: left to the scheduler):
    `gateway.cpu` for this one, else the allowed CPUs in turn with `gateway.pin_workers`."""
    gateway = settings.gateway
    if gateway.pin_workers:
        return list(worker_cpus(allowed_cpus(), gateway.workers))
    return [gateway.cpu] + [None] * (gateway.workers - 1)


def _freeze_start_up_objects() -> None:
    """Move what start-up built (modules, spyne's model, schemas, the dataset) out of the
    cyclic collector's reach: they live as long as the process, and each full collection
    would walk them again (issue #17)."""
    gc.collect()
    gc.freeze()


def _raise_descriptor_limit(settings: Settings) -> None:
    """Descriptors up to the hard limit, so that the connection bounds, not the system,
    decide who is refused; the admin listener and the supplier keep room beside them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    wanted = settings.gateway.max_connections + settings.supplier.max_connections + 64
    log.info(
        "descriptor limit",
        extra={"soft": limit, "was": soft, "hard": hard, "connections_budget": wanted},
    )
    if limit != resource.RLIM_INFINITY and limit < wanted:
        log.warning(
            "descriptor limit below gateway.max_connections + supplier.max_connections + 64: "
            "lower max_connections or raise the hard limit (ulimit -Hn)",
            extra={"soft": limit, "wanted": wanted},
        )


def _simulate(arguments: argparse.Namespace) -> int:
    reactor = _simulator_reactor()

    settings = load_simulator_settings(arguments.config)
    port = _listen_simulator(reactor, settings)
    _ready(simulator=_simulator_url(port, settings))
    reactor.run()
    return 0


def _dev(arguments: argparse.Namespace) -> int:
    reactor = _reactor()

    settings = _settings(arguments)
    _ensure_pki(settings, arguments.pki)
    if settings.simulator is None:
        raise ConfigurationError(
            f"{settings.source}: [simulator] section missing: add it to run the simulator"
        )
    simulator_port = _listen_simulator(reactor, settings.simulator)
    gateway = Gateway.build(settings)
    soap_port, admin_port = gateway.listen(reactor)
    _reload_on_sighup(reactor, gateway)
    soap = _soap_url(settings, soap_port)
    simulator = _simulator_url(simulator_port, settings.simulator)
    _ready(soap=soap, admin=_admin_url(admin_port), simulator=simulator)
    pki = arguments.pki
    print(
        f"\nGateway:   {soap}\nWSDL:      {soap}?wsdl\n"
        f"Admin:     {_admin_url(admin_port)}/healthz  /readyz\n"
        f"Simulator: {simulator}\n\n"
        "Call consultCareer as the CPAS of Namur:\n\n"
        f"  curl --cacert {pki}/ca.crt --cert {pki}/clients/cpas-namur.crt "
        f"--key {pki}/clients/cpas-namur.key \\\n"
        "    -H 'Content-Type: text/xml; charset=utf-8' "
        "-H 'SOAPAction: \"http://kszbcss.fgov.be/intf/SelfEmployedService/consultCareer\"' \\\n"
        f"    --data-binary @examples/consultCareer-DATA_FOUND.xml {soap}\n\n"
        "Ctrl-C stops both.\n",
        flush=True,
    )
    reactor.run()
    return 0


def _check_config(arguments: argparse.Namespace) -> int:
    """R-14: every inconsistency, one line each (client and field), before deployment."""
    from selfemployed_gateway.annex import find_problems
    from selfemployed_gateway.audit.protection import AuditProtection
    from selfemployed_gateway.bindings import binding_problems, load_bindings
    from selfemployed_gateway.production import unsafe_settings
    from selfemployed_gateway.server.admin import read_token
    from selfemployed_gateway.soap.contract import Contract
    from selfemployed_gateway.suppliers.tls import client_context
    from selfemployed_gateway.tls import server_tls_options

    problems: list[str] = []
    try:
        settings = _settings(arguments)
    except ConfigurationError as error:
        print(error)
        return 1
    try:
        dataset = load_dataset(settings.data.dataset)
        problems.extend(str(problem) for problem in find_problems(dataset))
        known = {client.id for client in dataset.clients}
        try:  # each client bound to exactly one certificate
            bindings = None
            if settings.tls.client_bindings is not None:
                bindings = load_bindings(settings.tls.client_bindings)
            problems.extend(binding_problems(bindings, [c.id for c in dataset.clients]))
        except ConfigurationError as error:
            problems.append(f"tls.client_bindings: {error}")
        problems.extend(  # an override for nobody is a typo that limits nobody
            f"limits.clients.{name}: no client {name!r} in the annex"
            for name in sorted(settings.limits.clients)
            if name not in known
        )
    except DatasetError as error:
        problems.append(str(error))
    problems.extend(unsafe_settings(settings))  # what production refuses
    try:  # the keys, the token and INASTI's TLS as serve reads them
        AuditProtection.from_settings(settings.audit)
        client_context(settings.supplier.tls)
        if settings.admin.token_file is not None:
            read_token(settings.admin.token_file)
    except ConfigurationError as error:
        problems.append(str(error))
    try:
        server_tls_options(
            settings.tls.certificate, settings.tls.private_key, settings.tls.client_ca
        )
    except TlsConfigurationError as error:
        problems.append(f"tls: {error}")
    try:
        Contract.load(settings.contract.wsdl, settings.contract.xsd_dir)
    except OSError as error:
        problems.append(f"contract: {error}")
    if settings.supplier.l302_mapping is not None:
        try:
            load_l302_mapping(settings.supplier.l302_mapping)
        except L302MappingError as error:
            problems.append(f"supplier.l302_mapping: {error}")
    elif settings.gateway.phase is Phase.TRANSITIONAL:
        problems.append("supplier.l302_mapping: required in the transitional phase (R-63)")
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{settings.source}: configuration OK ({len(dataset.clients)} clients)")
    return 0


def _dev_pki(arguments: argparse.Namespace) -> int:
    _ensure_pki(_settings(arguments), arguments.pki)
    print(f"development PKI ready in {arguments.pki}")
    return 0


def _ensure_pki(settings: Settings, root: Path) -> None:
    from selfemployed_gateway.devpki import ensure_dev_pki

    dataset = load_dataset(settings.data.dataset)
    ensure_dev_pki(root, [client.id for client in dataset.clients])


def _listen_simulator(reactor: Any, settings: SimulatorSettings) -> Any:
    from selfemployed_gateway.simulator.resource import listen_simulator

    return listen_simulator(reactor, load_dataset(settings.dataset), settings)


def _soap_url(settings: Settings, port: Any) -> str:
    address = port.getHost()
    return f"https://{address.host}:{address.port}{settings.gateway.path}"


def _admin_url(port: Any) -> str:
    address = port.getHost()
    return f"http://{address.host}:{address.port}"


def _simulator_url(port: Any, settings: SimulatorSettings) -> str:
    address = port.getHost()
    scheme = "https" if settings.tls is not None else "http"
    return f"{scheme}://{address.host}:{address.port}/inasti/SelfEmployedService"


def _ready(**urls: str) -> None:
    print(json.dumps({"event": "ready", **urls}), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
