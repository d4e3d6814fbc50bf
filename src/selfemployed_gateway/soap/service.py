"""The spyne application: SelfEmployedService with its two operations (R-01 … R-03).

This is the design card of the service: the operations, their message names and the models
of their requests (`models.py`), as spyne declares them. Spyne is used as a reader only
(`reader.py` finds the operation and deserialises its request); the operations' bodies never
run. The response is written by `writer.py` and every fault by `faults.py`, not by spyne: its
generic response serialisation cost three quarters of a request's CPU.
"""

from __future__ import annotations

import logging
from typing import Any

from spyne import Application, ServiceBase, rpc
from spyne.protocol.soap import Soap11

from selfemployed_gateway.namespaces import SERVICE, SOAP_ENV
from selfemployed_gateway.soap import models


def _message(model: Any, name: str) -> Any:
    return model.customize(sub_ns=SERVICE, sub_name=name)


class SelfEmployedService(ServiceBase):
    @rpc(
        _message(models.ConsultCareerRequest, "consultCareerRequest"),
        _body_style="bare",
        _in_message_name="consultCareerRequest",
        _out_message_name="consultCareerResponse",
        _operation_name="consultCareer",
    )
    def consultCareer(ctx: Any, request: Any) -> None:
        """Declared, never called: the pipeline answers (see `reader.py`)."""

    @rpc(
        _message(models.ConsultContributionsRequest, "consultContributionsRequest"),
        _body_style="bare",
        _in_message_name="consultContributionsRequest",
        _out_message_name="consultContributionsResponse",
        _operation_name="consultContributions",
    )
    def consultContributions(ctx: Any, request: Any) -> None:
        """Declared, never called: the pipeline answers (see `reader.py`)."""


class _Soap11(Soap11):
    # Spyne's XML document class keeps the envelope prefix for faults in a class attribute.
    soap_env = "soapenv"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._attributes: dict[type, Any] = {}

    def get_cls_attrs(self, cls: type) -> Any:
        """Spyne's attributes of a model class, as spyne computes them, remembered in a plain
        dict. Spyne's own cache is a WeakKeyDictionary behind a debug line that takes its
        length on every call, 26 calls a request: 25 of the 230 µs of reading one (issue
        #17). It never forgets an entry either; the classes live as long as the application."""
        attributes = self._attributes.get(cls)
        if attributes is None:
            attributes = self._attributes[cls] = super().get_cls_attrs(cls)
        return attributes


def build_application() -> Application:
    """The spyne Application, writing `soapenv` and `ses` prefixes like BCSS's examples."""
    application = Application(
        [SelfEmployedService],
        tns=SERVICE,
        name="SelfEmployedService",
        in_protocol=_Soap11(),
        out_protocol=_Soap11(cleanup_namespaces=True),
    )
    interface = application.interface
    for prefix in [p for p, ns in interface.nsmap.items() if ns in (SOAP_ENV, SERVICE)]:
        del interface.nsmap[prefix]
    interface.nsmap["soapenv"] = SOAP_ENV
    interface.nsmap["ses"] = SERVICE
    interface.prefmap[SOAP_ENV] = "soapenv"
    interface.prefmap[SERVICE] = "ses"
    return application


def quiet_spyne_logs() -> None:
    """Spyne logs a traceback per client fault and hundreds of debug lines per request."""
    for name in ("spyne", "spyne.application", "spyne.application.client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
