"""``selfemployed-gateway registry init|load``: the PostgreSQL registers (issue #14).

``registry init`` creates the tables of `registry.postgresql`, if absent; ``registry load``
replaces the person register and the integration repertory by a dataset's (the configured
`data.dataset`, or ``--dataset FILE``), in one transaction. Both need `registry.postgresql_dsn`
(`SEG_REGISTRY_POSTGRESQL_DSN`); failures print one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg

from selfemployed_gateway.dataset import load_dataset
from selfemployed_gateway.postgresql_errors import describe
from selfemployed_gateway.registry.postgresql import create_schema
from selfemployed_gateway.registry.postgresql import load_dataset as load_registers
from selfemployed_gateway.settings import Settings

PROG = "selfemployed-gateway"

SettingsLoader = Callable[[argparse.Namespace], Settings]


def add_registry_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    load_settings: SettingsLoader,
) -> None:
    registry = subparsers.add_parser(
        "registry", help="the person register and integration repertory in PostgreSQL"
    )
    commands = registry.add_subparsers(required=True, metavar="REGISTRY_COMMAND")
    init = commands.add_parser("init", help="create the registry tables (if absent)")
    init.set_defaults(command=lambda arguments: _init(load_settings(arguments)))
    load = commands.add_parser(
        "load", help="replace the registers by a dataset's (default: data.dataset)"
    )
    load.add_argument("--dataset", type=Path, metavar="FILE", help="a dataset JSON file")
    load.set_defaults(command=lambda arguments: _load(load_settings(arguments), arguments))


def _dsn(settings: Settings) -> str | None:
    if settings.registry.postgresql_dsn is None:
        print(
            f"{PROG}: registry.postgresql_dsn is not set (SEG_REGISTRY_POSTGRESQL_DSN)",
            file=sys.stderr,
        )
    return settings.registry.postgresql_dsn


def _init(settings: Settings) -> int:
    dsn = _dsn(settings)
    if dsn is None:
        return 2
    try:
        create_schema(dsn)
    except psycopg.Error as error:
        print(f"{PROG}: registry init failed: {describe(error)}", file=sys.stderr)
        return 2
    print("registry tables ready")
    return 0


def _load(settings: Settings, arguments: argparse.Namespace) -> int:
    dsn = _dsn(settings)
    if dsn is None:
        return 2
    dataset = load_dataset(arguments.dataset or settings.data.dataset)
    try:
        persons, integrations = load_registers(dsn, dataset)
    except psycopg.Error as error:
        print(f"{PROG}: registry load failed: {describe(error)}", file=sys.stderr)
        return 2
    print(f"registry loaded: {persons} persons, {integrations} integration periods")
    return 0
