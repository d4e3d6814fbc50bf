"""One error tree (errors.py): every exception the project defines sits under GatewayError,
in its branch; GatewayFault alone stays apart, since it is an answer (§8), not a failure."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import selfemployed_gateway
from selfemployed_gateway import errors
from selfemployed_gateway.dataset import DatasetError
from selfemployed_gateway.records import GatewayFault
from selfemployed_gateway.suppliers.l302.mapping import L302MappingError
from selfemployed_gateway.tls import TlsConfigurationError


def project_exceptions() -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for module in pkgutil.walk_packages(selfemployed_gateway.__path__, "selfemployed_gateway."):
        loaded = importlib.import_module(module.name)
        for _, value in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith(
                "selfemployed_gateway"
            ):
                found.add(value)
    return found


def test_every_project_exception_is_a_gateway_error() -> None:
    outside = {e.__name__ for e in project_exceptions() if not issubclass(e, errors.GatewayError)}
    assert outside == {"GatewayFault"}


@pytest.mark.parametrize("error", [DatasetError, TlsConfigurationError, L302MappingError])
def test_configuration_inputs_raise_the_configuration_branch(
    error: type[errors.ConfigurationError],
) -> None:
    assert issubclass(error, errors.ConfigurationError)


def test_a_fault_is_not_a_failure() -> None:
    assert not issubclass(GatewayFault, errors.GatewayError)
    assert not issubclass(errors.SupplierError, errors.ConfigurationError)
    assert not issubclass(errors.AuditError, errors.ConfigurationError)
