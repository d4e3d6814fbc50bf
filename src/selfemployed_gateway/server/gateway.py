"""Assembling a gateway from its settings, and putting it on the reactor."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from twisted.internet import ssl
from twisted.python.threadpool import ThreadPool
from twisted.web import resource, server

from selfemployed_gateway import tls
from selfemployed_gateway.annex import Annex
from selfemployed_gateway.clock import clock_from_setting
from selfemployed_gateway.dataset import Dataset, load_dataset
from selfemployed_gateway.pipeline import Pipeline
from selfemployed_gateway.registry.sqlite import SqliteRegisters
from selfemployed_gateway.server.admin import Readiness, admin_root
from selfemployed_gateway.server.resource import ConsultResource
from selfemployed_gateway.settings import ConfigurationError, Phase, Settings
from selfemployed_gateway.soap.contract import Contract
from selfemployed_gateway.soap.endpoint import SoapEndpoint
from selfemployed_gateway.stages.validation import SchemaValidator
from selfemployed_gateway.suppliers import Supplier
from selfemployed_gateway.suppliers.inasti_final import InastiFinalSupplier
from selfemployed_gateway.suppliers.l302 import L302Supplier
from selfemployed_gateway.suppliers.l302_mapping import load_l302_mapping

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    """Everything a running gateway holds; built once at start-up from `Settings`."""

    settings: Settings
    dataset: Dataset
    contract: Contract
    supplier: Supplier
    endpoint: SoapEndpoint
    tls_options: ssl.CertificateOptions

    @classmethod
    def build(cls, settings: Settings) -> Gateway:
        """Load and check everything; any problem raises before a port is opened."""
        dataset = load_dataset(settings.data.dataset)
        contract = Contract.load(settings.contract.wsdl, settings.contract.xsd_dir)
        supplier = build_supplier(settings, dataset)
        clock = clock_from_setting(settings.gateway.clock)
        registers = SqliteRegisters.from_dataset(dataset)
        annex = Annex.from_dataset(dataset)
        for problem in annex.problems:
            log.warning(
                "inconsistent annex (R-14; requests of this client get MSG00003): %s", problem
            )
        pipeline = Pipeline(
            annex=annex, register=registers, repertory=registers, supplier=supplier, clock=clock
        )
        endpoint = SoapEndpoint(
            pipeline,
            SchemaValidator(contract.service_xsd),
            SchemaValidator.for_common_element(
                contract.xsd_dir / "CommonV3.xsd", "informationCustomer", "InformationCustomerType"
            ),
            clock,
            validate_responses=settings.gateway.validate_responses,
        )
        tls_options = tls.server_tls_options(
            settings.tls.certificate, settings.tls.private_key, settings.tls.client_ca
        )
        return cls(settings, dataset, contract, supplier, endpoint, tls_options)

    def listen(self, reactor: Any) -> tuple[Any, Any]:
        """Open the SOAP (mutual TLS) and admin (HTTP) listeners; returns both ports."""
        threadpool = ThreadPool(
            minthreads=1, maxthreads=self.settings.gateway.threads, name="pipeline"
        )
        threadpool.start()
        reactor.addSystemEventTrigger("during", "shutdown", threadpool.stop)
        reactor.addSystemEventTrigger("during", "shutdown", self.supplier.close)

        consult = ConsultResource(
            self.endpoint, self.contract, self.settings.gateway.path, reactor, threadpool
        )
        site = server.Site(_mount(self.settings.gateway.path, consult))
        site.displayTracebacks = False
        listen = self.settings.gateway.listen
        soap_port = reactor.listenSSL(listen.port, site, self.tls_options, interface=listen.host)

        readiness = Readiness(self.supplier.is_reachable, reactor, threadpool)
        admin_site = server.Site(admin_root(readiness))
        admin_site.displayTracebacks = False
        admin = self.settings.admin.listen
        admin_port = reactor.listenTCP(admin.port, admin_site, interface=admin.host)
        return soap_port, admin_port


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
    root = resource.Resource()
    node = root
    parts = [p.encode() for p in path.strip("/").split("/")]
    for part in parts[:-1]:
        child = resource.Resource()
        node.putChild(part, child)  # type: ignore[arg-type]  # zope: provides IResource
        node = child
    node.putChild(parts[-1], leaf)  # type: ignore[arg-type]
    return root
