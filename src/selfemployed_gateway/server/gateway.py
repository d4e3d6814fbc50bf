"""Assembling a gateway from its settings, putting it on the reactor, and reloading it."""

from __future__ import annotations

import asyncio
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.web import resource

from selfemployed_gateway import tls
from selfemployed_gateway.admission import Admission
from selfemployed_gateway.annex import Annex
from selfemployed_gateway.audit.backends import open_audit_store
from selfemployed_gateway.audit.protection import AuditProtection
from selfemployed_gateway.audit.retention import Retention
from selfemployed_gateway.audit.trail import AuditStore
from selfemployed_gateway.audit.writer import AuditWriter
from selfemployed_gateway.bindings import load_bindings
from selfemployed_gateway.clock import clock_from_setting
from selfemployed_gateway.configuration import configuration_digest, load_settings
from selfemployed_gateway.dataset import Dataset, load_dataset
from selfemployed_gateway.errors import ConfigurationError
from selfemployed_gateway.exchange import ExchangeHandler
from selfemployed_gateway.metrics import GatewayMetrics
from selfemployed_gateway.pipeline import Pipeline
from selfemployed_gateway.production import check_production
from selfemployed_gateway.registry.postgresql import PostgresRegisters
from selfemployed_gateway.registry.sqlite import SqliteRegisters
from selfemployed_gateway.server.admin import Metrics, Readiness, admin_root, read_token
from selfemployed_gateway.server.channel import (
    AdminRequest,
    AdmittingTLSFactory,
    GatewaySite,
    InMemoryBodySite,
)
from selfemployed_gateway.server.connections import ConnectionBudget
from selfemployed_gateway.server.plain import PlainNode
from selfemployed_gateway.server.resource import ConsultResource
from selfemployed_gateway.settings import AuditBackend, Phase, RegistryBackend, Settings
from selfemployed_gateway.soap.contract import Contract
from selfemployed_gateway.soap.endpoint import SoapEndpoint
from selfemployed_gateway.suppliers import Supplier
from selfemployed_gateway.suppliers.breaker import CircuitBreaker, GuardedSupplier
from selfemployed_gateway.suppliers.final.adapter import InastiFinalSupplier
from selfemployed_gateway.suppliers.l302.adapter import L302Supplier
from selfemployed_gateway.suppliers.l302.mapping import load_l302_mapping
from selfemployed_gateway.xmlsafe import XmlLimits

log = logging.getLogger(__name__)

# What a reload may fail with: the old configuration then stays in force. Every loader
# raises a ConfigurationError (errors.py); OSError: a file that vanished under us.
RELOAD_ERRORS = (ConfigurationError, OSError)


@dataclass
class Gateway:
    """Everything a running gateway holds; built once at start-up from `Settings`."""

    settings: Settings
    contract: Contract
    supplier: Supplier
    endpoint: SoapEndpoint
    exchanges: ExchangeHandler
    metrics: GatewayMetrics
    audit: AuditStore
    audit_writer: AuditWriter
    tls: tls.ReloadableServerTls
    breaker: CircuitBreaker
    retention: Retention
    admin_token: bytes | None  # admin.token_file, read at start-up
    _closing: set[asyncio.Task[None]] = field(default_factory=set)
    _retention_task: asyncio.Task[None] | None = None

    @classmethod
    def build(cls, settings: Settings) -> Gateway:
        """Load and check everything; any problem raises before a port is opened."""
        check_production(settings)  # every unsafe setting named, before anything opens
        token_file = settings.admin.token_file
        dataset = load_dataset(settings.data.dataset)
        server_tls_options = server_tls(settings)  # certificate problems first: the usual ones
        contract = Contract.load(settings.contract.wsdl, settings.contract.xsd_dir)
        metrics = GatewayMetrics(phase=settings.gateway.phase.value)
        breaker = CircuitBreaker(
            settings.supplier.breaker_failures,
            settings.supplier.breaker_cooldown_seconds,
            settings.supplier.breaker_window_seconds,
            on_change=metrics.circuit_changed,
        )
        supplier = GuardedSupplier(build_supplier(settings, dataset), breaker)
        clock = clock_from_setting(settings.gateway.clock)
        endpoint = SoapEndpoint(
            build_pipeline(settings, dataset, supplier, build_registers(settings, dataset)),
            contract,
            clock,
            validate_responses=settings.gateway.validate_responses,
            xml_limits=XmlLimits(**settings.limits.xml.model_dump()),
        )
        audit = open_audit_store(settings.audit)
        # SQLite takes one writer at a time anyway; PostgreSQL writes in parallel.
        writers = 1 if settings.audit.backend is AuditBackend.SQLITE else settings.gateway.threads
        audit_writer = AuditWriter(audit, threads=writers, on_commit=metrics.audit_batch.observe)
        return cls(
            settings=settings,
            contract=contract,
            supplier=supplier,
            endpoint=endpoint,
            exchanges=ExchangeHandler(
                endpoint,
                audit,
                metrics,
                clock,
                audit_writer=audit_writer,
                admission=Admission(settings.limits),
                stored_bytes=(settings.audit.max_request_bytes, settings.audit.max_response_bytes),
                protection=AuditProtection.from_settings(settings.audit),
                decision_trail=settings.audit.decision_trail,
            ),
            metrics=metrics,
            audit=audit,
            audit_writer=audit_writer,
            tls=tls.ReloadableServerTls(server_tls_options),
            breaker=breaker,
            # Its own thread: a long purge holds SQLite's lock, never the writer's queue.
            retention=Retention(
                audit,
                clock,
                metrics,
                ThreadPoolExecutor(1, thread_name_prefix="audit-purge"),
                settings.audit.retention_days,
            ),
            admin_token=read_token(token_file) if token_file is not None else None,
        )

    def listen(self, reactor: Any) -> tuple[Any, Any]:
        """Open the SOAP (mutual TLS) and admin (HTTP) listeners; returns both ports."""
        loop = event_loop(reactor)
        # Other blocking work beside the loop: readiness probes, waiting for worker processes.
        blocking = ThreadPoolExecutor(2, thread_name_prefix="blocking")
        loop.set_default_executor(blocking)
        consult = ConsultResource(
            self.exchanges,
            self.metrics,
            self.contract,
            self.settings.gateway.path,
            loop,
            public_url=self.settings.gateway.public_url,
            echo_host=self.settings.gateway.environment == "development",
        )

        site = GatewaySite(
            _mount(self.settings.gateway.path, consult),
            self.metrics,
            max_request_bytes=self.settings.gateway.max_request_bytes,
            request_timeout_seconds=self.settings.gateway.request_timeout_seconds,
            connections=ConnectionBudget(
                max_connections=self.settings.gateway.max_connections,
                max_per_peer=self.settings.gateway.max_connections_per_peer,
                max_age_seconds=self.settings.gateway.connection_max_age_seconds,
                max_requests=self.settings.gateway.connection_max_requests,
                new_per_second_per_peer=self.settings.gateway.new_connections_per_peer_per_second,
            ),
        )
        listen = self.settings.gateway.listen
        backlog = self.settings.gateway.listen_backlog
        if self.settings.gateway.reuse_port:
            soap_port = _listen_shared(reactor, listen.host, listen.port, site, self.tls, backlog)
        else:
            tls_site: Any = AdmittingTLSFactory(self.tls, False, site)  # type: ignore[arg-type]
            soap_port = reactor.listenTCP(listen.port, tls_site, backlog, listen.host)

        def drain() -> Deferred[None]:
            # Nothing new is taken in; what was taken in is answered and audited, then closes.
            soap_port.stopListening()
            return Deferred.fromFuture(loop.create_task(self.drain(consult)))

        reactor.addSystemEventTrigger("before", "shutdown", drain)
        interval = self.settings.audit.purge_interval_seconds
        if interval > 0:
            self._retention_task = loop.create_task(self.retention.run(interval))
        reactor.addSystemEventTrigger("after", "shutdown", blocking.shutdown)
        reactor.addSystemEventTrigger("after", "shutdown", self.retention.writer.shutdown)
        reactor.addSystemEventTrigger("after", "shutdown", self.audit_writer.close)
        reactor.addSystemEventTrigger("after", "shutdown", self.audit.close)

        readiness = Readiness(
            lambda: self.supplier.is_reachable(),
            loop,
            circuit=lambda: self.breaker.state,
            registry_reachable=self._registry_reachable,
        )
        admin = admin_root(readiness, Metrics(self.metrics.registry, self.admin_token))
        # Probes and scrapers send small GETs: no body kept, no 12-hour idle connection.
        admin_site = InMemoryBodySite(admin, requestFactory=AdminRequest, timeout=30)
        admin_site.displayTracebacks = False
        admin_site.noisy = False
        address = self.settings.admin.listen
        admin_port = reactor.listenTCP(address.port, admin_site, interface=address.host)
        return soap_port, admin_port

    def reload(self, reactor: Any) -> bool:
        """SIGHUP: re-read the configuration file, the annex (clients, code tables, register,
        integrations) and the TLS trust store, and swap them in at once. A configuration that
        fails validation is refused and logged; the running one stays in force."""
        assert self.settings.source is not None
        try:
            settings = load_settings(self.settings.source)
            check_production(settings)
            dataset = load_dataset(settings.data.dataset)
            tls_options = server_tls(settings)
            supplier = GuardedSupplier(build_supplier(settings, dataset), self.breaker)
            registers = build_registers(settings, dataset, self.endpoint.pipeline.register)
            pipeline = build_pipeline(settings, dataset, supplier, registers)
            protection = AuditProtection.from_settings(settings.audit)
        except RELOAD_ERRORS as error:
            log.error(
                "configuration reload refused; the running configuration stays in force",
                extra={"error": str(error)},
            )
            self.metrics.reloads.labels("refused").inc()
            return False
        if (settings.gateway.listen, settings.admin.listen) != (
            self.settings.gateway.listen,
            self.settings.admin.listen,
        ):
            log.warning("listen addresses changed: they take effect at the next restart")
        old_supplier = self.supplier
        old_registers = self.endpoint.pipeline.register
        self.endpoint.pipeline = pipeline  # one assignment: a request sees old or new
        self.exchanges.admission.configure(settings.limits)
        self.exchanges.protection = protection  # a new sealing key takes over (rotation)
        self.exchanges.decision_trail = settings.audit.decision_trail
        self.retention.days = settings.audit.retention_days
        self.breaker.configure(
            settings.supplier.breaker_failures,
            settings.supplier.breaker_cooldown_seconds,
            settings.supplier.breaker_window_seconds,
        )
        self.supplier = supplier
        self.tls.replace(tls_options)
        self.settings = settings
        # In-flight calls may still use the old supplier (and registers) until their time
        # budget ends.
        grace = old_supplier_grace(settings)
        reactor.callLater(grace, self._close_later, reactor, old_supplier)
        if isinstance(old_registers, PostgresRegisters) and old_registers is not registers:
            reactor.callLater(grace, self._close_later, reactor, old_registers)
        self.metrics.reloads.labels("applied").inc()
        log.info(
            "configuration reloaded",
            extra={"clients": len(dataset.clients), "configuration": pipeline.configuration},
        )
        return True

    def _close_later(self, reactor: Any, replaced: Supplier | PostgresRegisters) -> None:
        """Close a supplier or registers that a reload replaced (their connections)."""
        task = event_loop(reactor).create_task(replaced.aclose())
        self._closing.add(task)  # a task nobody refers to may be collected before it ends
        task.add_done_callback(self._closing.discard)

    async def _registry_reachable(self) -> bool | None:
        registers = self.endpoint.pipeline.register
        if isinstance(registers, PostgresRegisters):
            return await registers.is_reachable()
        return None  # in memory

    async def drain(self, consult: ConsultResource) -> None:
        """Shutdown: refuse new requests, wait for the exchanges in flight (at most the
        supplier's budget and a second), then close the supplier's connections."""
        if self._retention_task is not None:
            self._retention_task.cancel()
        await consult.drain(drain_seconds(self.settings))
        await self.supplier.aclose()
        registers = self.endpoint.pipeline.register
        if isinstance(registers, PostgresRegisters):
            await registers.aclose()


def event_loop(reactor: Any) -> asyncio.AbstractEventLoop:
    """The asyncio loop under the reactor: the gateway needs Twisted's asyncio reactor
    (installed by the `serve` and `dev` commands), because the pipeline awaits the supplier."""
    loop = getattr(reactor, "_asyncioEventloop", None)
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise RuntimeError(
            f"the gateway runs on Twisted's asyncio reactor, not {type(reactor).__name__}: "
            "call twisted.internet.asyncioreactor.install() before importing the reactor"
        )
    return loop


def _listen_shared(
    reactor: Any, host: str, port: int, site: Any, creator: Any, backlog: int
) -> Any:
    """A TLS listener bound with SO_REUSEPORT: several gateway processes share the port and
    the kernel spreads connections over them (one process per core: the GIL)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
        return reactor.adoptStreamPort(
            sock.fileno(), sock.family, AdmittingTLSFactory(creator, False, site)
        )
    finally:
        sock.close()  # the reactor holds its own duplicate of the descriptor


def drain_seconds(settings: Settings) -> float:
    """How long SIGTERM waits for the exchanges in flight: the longest supplier call and a
    second to answer. An orchestrator's grace period must exceed it (docs/deployment.md)."""
    return settings.supplier.timeout_seconds + 1


def old_supplier_grace(settings: Settings) -> float:
    return settings.supplier.timeout_seconds + 2


def server_tls(settings: Settings) -> Any:
    return tls.server_tls_options(
        settings.tls.certificate,
        settings.tls.private_key,
        settings.tls.client_ca,
        settings.tls.crl,
    )


Registers = SqliteRegisters | PostgresRegisters


def build_registers(settings: Settings, dataset: Dataset, current: object = None) -> Registers:
    """The register and repertory of `registry.backend`: the dataset's in memory (rebuilt at
    each reload), or PostgreSQL's (kept across a reload that does not change it)."""
    registry = settings.registry
    if registry.backend is RegistryBackend.SQLITE:
        return SqliteRegisters.from_dataset(dataset)
    assert registry.postgresql_dsn is not None  # settings.RegistrySettings checks it
    wanted = (registry.postgresql_dsn, registry.timeout_seconds, registry.connections)
    if (
        isinstance(current, PostgresRegisters)
        and (
            current.dsn,
            current.timeout_seconds,
            current.connections,
        )
        == wanted
    ):
        return current
    return PostgresRegisters(*wanted)


def build_pipeline(
    settings: Settings, dataset: Dataset, supplier: Supplier, registers: Registers
) -> Pipeline:
    """The pipeline over one dataset: annex (R-14 checked), registers, supplier, clock."""
    bindings = None
    if settings.tls.client_bindings is not None:
        bindings = load_bindings(settings.tls.client_bindings)
    annex = Annex.from_dataset(dataset, bindings)
    for problem in annex.problems:
        log.warning("inconsistent annex (R-14; requests of this client get MSG00003): %s", problem)
    # Named in every exchange's decision trail: logged so that the service desk can tell when
    # that configuration was in force (issue #18).
    configuration = configuration_digest(settings)
    log.info("annex in force", extra={"configuration": configuration})
    return Pipeline(
        annex=annex,
        register=registers,
        repertory=registers,
        supplier=supplier,
        clock=clock_from_setting(settings.gateway.clock),
        configuration=configuration,
    )


def build_supplier(settings: Settings, dataset: Dataset) -> Supplier:
    """The supplier adapter of the configured phase (R-60 … R-62)."""
    if settings.gateway.phase is Phase.FINAL:
        return InastiFinalSupplier(settings.supplier)
    if settings.supplier.l302_mapping is None:
        raise ConfigurationError(
            f"{settings.source}: [supplier.l302_mapping] is required in the transitional phase: "
            "name the L302 conversion table (config/l302-mapping.toml)"
        )
    mapping = load_l302_mapping(settings.supplier.l302_mapping)
    return L302Supplier(settings.supplier, mapping, dataset.codes, dataset.funds)


def _mount(path: str, leaf: ConsultResource) -> resource.Resource:
    """A resource tree with `leaf` at `path` (e.g. /SelfEmployedService/v2/consult)."""
    root = PlainNode()
    node = root
    parts = [p.encode() for p in path.strip("/").split("/")]
    for part in parts[:-1]:
        child = PlainNode()
        node.putChild(part, child)  # type: ignore[arg-type]  # zope: provides IResource
        node = child
    node.putChild(parts[-1], leaf)  # type: ignore[arg-type]
    return root
