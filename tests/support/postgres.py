"""A throw-away PostgreSQL server for the audit trail's tests (R-73, postgresql backend).

The session fixture `postgresql_dsn` (import `postgresql_dsn_fixture` into a test module to
use it) finds `initdb` and `pg_ctl` (on PATH, else in ``/usr/lib/postgresql/*/bin``, where
Debian puts them), creates a cluster in a temporary folder, starts it on a free loopback port
(Unix socket in the same folder, TCP only on 127.0.0.1, fsync off: tests do not need
power-loss durability), creates a database and yields its DSN; at the end it stops the server
(``pg_ctl stop -m fast``) and removes the folder. PostgreSQL refuses to run as root: as root,
everything runs as the ``postgres`` system user (``runuser``, else ``su``), owner of the
folder.

PostgreSQL missing is a failure, not a skip: `.ci/run` installs it.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.support.ports import free_port

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SERVICE_USER = "postgres"
DATABASE = "audit_test"


@dataclass(frozen=True)
class PostgresBinaries:
    initdb: Path
    pg_ctl: Path


@dataclass(frozen=True)
class PostgresServer:
    root: Path
    port: int
    dsn: str


def find_binaries() -> PostgresBinaries | None:
    """`initdb` and `pg_ctl` from PATH, else from the newest ``/usr/lib/postgresql/N/bin``."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return PostgresBinaries(Path(initdb).resolve(), Path(pg_ctl).resolve())
    candidates = sorted(
        DEBIAN_BINARIES.glob("*/bin"),
        key=lambda folder: [int(n) for n in re.findall(r"\d+", folder.parent.name)],
        reverse=True,
    )
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return PostgresBinaries(folder / "initdb", folder / "pg_ctl")
    return None


@contextmanager
def running_postgres(binaries: PostgresBinaries) -> Iterator[PostgresServer]:
    """A fresh cluster with database `DATABASE`, stopped and deleted on exit."""
    root = Path(tempfile.mkdtemp(prefix="seg-pg-"))
    as_user = _as_user(root)
    data, log = root / "data", root / "server.log"
    try:
        _check(
            as_user(
                [
                    str(binaries.initdb),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            root,
            "initdb",
        )
        port = _start(binaries, as_user, root, data, log)
        try:
            admin = f"host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=5"
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f"CREATE DATABASE {DATABASE}")
            dsn = f"host=127.0.0.1 port={port} user=postgres dbname={DATABASE}"
            yield PostgresServer(root=root, port=port, dsn=dsn)
        finally:
            subprocess.run(
                as_user([str(binaries.pg_ctl), "-D", str(data), "-m", "fast", "-w", "stop"]),
                cwd=root,
                capture_output=True,
                check=False,
                timeout=60,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", name="postgresql_dsn")
def postgresql_dsn_fixture() -> Iterator[str]:
    """The DSN of a database on a PostgreSQL server started for this test session."""
    binaries = find_binaries()
    if binaries is None:
        pytest.fail(
            "PostgreSQL is not installed: initdb/pg_ctl are neither on PATH nor in "
            f"{DEBIAN_BINARIES}/*/bin. Install it (Debian: apt-get install postgresql; "
            ".ci/run does this) to test the postgresql audit backend.",
            pytrace=False,
        )
    with running_postgres(binaries) as server:
        yield server.dsn


def _as_user(root: Path) -> Callable[[Sequence[str]], list[str]]:
    """How to run a command: as root, as the `postgres` user (owner of ``root``)."""
    if os.geteuid() != 0:
        return list
    try:
        user = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pytest.fail(
            f"running as root, and PostgreSQL refuses root: no '{SERVICE_USER}' system user "
            "to run it as (Debian's postgresql package creates it)",
            pytrace=False,
        )
    os.chown(root, user.pw_uid, user.pw_gid)
    if shutil.which("runuser"):
        return lambda command: ["runuser", "-u", SERVICE_USER, "--", *command]
    return lambda command: ["su", "-s", "/bin/sh", SERVICE_USER, "-c", shlex.join(command)]


def _start(
    binaries: PostgresBinaries,
    as_user: Callable[[Sequence[str]], list[str]],
    root: Path,
    data: Path,
    log: Path,
) -> int:
    """Start on a free port (a few attempts: another process may take it meanwhile)."""
    failure = ""
    for _ in range(3):
        port = free_port()
        options = (
            f"-p {port} -k {shlex.quote(str(root))} -c listen_addresses=127.0.0.1 -c fsync=off"
        )
        result = subprocess.run(
            as_user(
                [
                    str(binaries.pg_ctl),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                    "start",
                ]
            ),
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=90,
        )
        if result.returncode == 0:
            return port
        failure = result.stdout + result.stderr + _tail(log)
    pytest.fail(f"PostgreSQL did not start:\n{failure}", pytrace=False)


def _check(command: Sequence[str], cwd: Path, what: str) -> None:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed ({shlex.join(command)}):\n{result.stdout}{result.stderr}",
            pytrace=False,
        )


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return ""
