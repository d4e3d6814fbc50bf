"""R-11, R-14, R-46: the annex per client and its consistency (annex.py, `check-config`)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from selfemployed_gateway.annex import Annex, Problem, find_problems
from selfemployed_gateway.dataset import (
    ClientEntry,
    Dataset,
    Identification,
    IntegrationEntry,
    IntegrationRule,
    PeriodCheck,
    RegisterEntry,
)
from selfemployed_gateway.devpki import ensure_dev_pki
from selfemployed_gateway.records import ClientCertificate
from tests.unit.conftest import PROJECT, certificate

LONGEST_CONTEXT = "L" * 64
TOO_LONG_CONTEXT = "L" * 65


def update_client(dataset: Dataset, client_id: str, **changes: Any) -> Dataset:
    """A copy of the dataset where one client entry has the given fields changed."""
    assert dataset.client(client_id) is not None
    clients = [
        client.model_copy(update=changes) if client.id == client_id else client
        for client in dataset.clients
    ]
    return dataset.model_copy(update={"clients": clients})


def add_clients(dataset: Dataset, *extra: ClientEntry) -> Dataset:
    return dataset.model_copy(update={"clients": [*dataset.clients, *extra]})


def rule(required: bool, quality: int | None, check: PeriodCheck | None) -> IntegrationRule:
    return IntegrationRule(required=required, quality_code=quality, period_check=check)


def no_quality_code(dataset: Dataset) -> Dataset:
    return update_client(dataset, "riziv-medical", integration=rule(True, None, PeriodCheck.IGNORE))


def no_period_check(dataset: Dataset) -> Dataset:
    return update_client(dataset, "riziv-medical", integration=rule(True, 1, None))


def neither(dataset: Dataset) -> Dataset:
    return update_client(dataset, "pension-office", integration=rule(True, None, None))


def not_required_without_anything(dataset: Dataset) -> Dataset:
    return update_client(dataset, "cpas-namur", integration=rule(False, None, None))


def cpas_by_sector(dataset: Dataset) -> Dataset:
    return update_client(
        dataset, "cpas-namur", identification=Identification(sector=17, institution=1)
    )


def non_cpas_by_sector(dataset: Dataset) -> Dataset:
    return update_client(
        dataset, "pension-office", identification=Identification(sector=17, institution=1)
    )


def duplicate_id(dataset: Dataset) -> Dataset:
    twin = dataset.clients[1].model_copy(
        update={"identification": Identification(sector=7, institution=9)}
    )
    assert twin.id == "famifund-east"
    return add_clients(dataset, twin)


SHARED = "CN=shared,O=BCSS"


def shared_subject(dataset: Dataset) -> Dataset:
    return update_client(
        update_client(dataset, "cpas-namur", certificate_subject=SHARED),
        "pension-office",
        certificate_subject=SHARED,
    )


def shared_subject_written_differently(dataset: Dataset) -> Dataset:
    return update_client(
        update_client(dataset, "cpas-namur", certificate_subject="CN=a\\,b,O=x"),
        "pension-office",
        certificate_subject="CN=a\\2Cb,O=x",
    )


def subject_naming_another_client(dataset: Dataset) -> Dataset:
    return update_client(
        dataset, "pension-office", certificate_subject="CN=cpas-namur,O=Pension Office"
    )


def subject_naming_itself(dataset: Dataset) -> Dataset:
    return update_client(dataset, "pension-office", certificate_subject="CN=pension-office,O=PO")


def unknown_integration_client(dataset: Dataset) -> Dataset:
    ghosts = [
        IntegrationEntry(
            ssin="65031510159", client="ghost", quality_code=1, begin=date(2000, 1, 1), end=None
        ),
        IntegrationEntry(
            ssin="72060120261",
            client="ghost",
            quality_code=1,
            begin=date(2000, 1, 1),
            end=date(2001, 1, 1),
        ),
        IntegrationEntry(
            ssin="72060120261",
            client="CPAS-NAMUR",
            quality_code=1,
            begin=date(2000, 1, 1),
            end=None,
        ),
    ]
    return dataset.model_copy(update={"integrations": [*dataset.integrations, *ghosts]})


def replaced_by(target: str | None) -> Callable[[Dataset], Dataset]:
    def change(dataset: Dataset) -> Dataset:
        register = [
            RegisterEntry(ssin=p.ssin, status="replaced", replaced_by=target)
            if p.ssin == "80022904503"
            else p
            for p in dataset.person_register
        ]
        return dataset.model_copy(update={"person_register": register})

    return change


def clash(owner: str, subject: str, others: str) -> Problem:
    return Problem(
        owner, "certificate_subject", f"certificate {subject!r} also identifies {others}"
    )


REPLACED_INDEX = 19  # position of 80022904503 in the reference register
REPLACEMENT_PROBLEM = Problem(
    None,
    f"register[{REPLACED_INDEX}].replaced_by",
    "a replaced NISS must name a replacement known to the register",
)

CASES: list[tuple[str, Callable[[Dataset], Dataset], list[Problem], set[str]]] = [
    (
        "unknown operation",
        lambda ds: update_client(ds, "cpas-namur", operations=["consultCareer", "consultAll"]),
        [
            Problem(
                "cpas-namur",
                "operations",
                "unknown operation 'consultAll' (known: consultCareer, consultContributions)",
            )
        ],
        {"cpas-namur"},
    ),
    (
        "operation names are case-sensitive",
        lambda ds: update_client(ds, "pension-office", operations=["ConsultCareer"]),
        [
            Problem(
                "pension-office",
                "operations",
                "unknown operation 'ConsultCareer' (known: consultCareer, consultContributions)",
            )
        ],
        {"pension-office"},
    ),
    (
        "service allowed without operations",
        lambda ds: update_client(ds, "pension-office", operations=[]),
        [
            Problem(
                "pension-office",
                "operations",
                "service_allowed is true but no operation is allowed",
            )
        ],
        {"pension-office"},
    ),
    (
        "service not allowed, no operations: consistent",
        lambda ds: update_client(ds, "suspended-institution", operations=[], legal_contexts=[]),
        [],
        set(),
    ),
    (
        "integration required without quality code",
        no_quality_code,
        [
            Problem(
                "riziv-medical",
                "integration.quality_code",
                "integration required without a quality code",
            )
        ],
        {"riziv-medical"},
    ),
    (
        "integration required without period check",
        no_period_check,
        [
            Problem(
                "riziv-medical",
                "integration.period_check",
                "integration required without a period check (Ignore, CurrentDate, FullyIncluded)",
            )
        ],
        {"riziv-medical"},
    ),
    (
        "integration required without either",
        neither,
        [
            Problem(
                "pension-office",
                "integration.quality_code",
                "integration required without a quality code",
            ),
            Problem(
                "pension-office",
                "integration.period_check",
                "integration required without a period check (Ignore, CurrentDate, FullyIncluded)",
            ),
        ],
        {"pension-office"},
    ),
    ("integration not required needs neither", not_required_without_anything, [], set()),
    (
        "filter on an unknown element",
        lambda ds: update_client(ds, "pension-office", filters=["occupation", "ssin"]),
        [
            Problem(
                "pension-office",
                "filters",
                "filter on unknown element 'ssin' (filterable: occupation, signatureDate)",
            )
        ],
        {"pension-office"},
    ),
    (
        "legal context of 64 characters",
        lambda ds: update_client(ds, "cpas-namur", legal_contexts=[LONGEST_CONTEXT]),
        [],
        set(),
    ),
    (
        "legal context of 65 characters",
        lambda ds: update_client(
            ds, "cpas-namur", legal_contexts=["PCSA:SOCIAL_INQUIRY", TOO_LONG_CONTEXT]
        ),
        [
            Problem(
                "cpas-namur",
                "legal_contexts",
                f"legal context {TOO_LONG_CONTEXT!r} is empty or longer than 64 characters: "
                "no request can carry it",
            )
        ],
        {"cpas-namur"},
    ),
    (
        "empty legal context",
        lambda ds: update_client(ds, "famifund-east", legal_contexts=[""]),
        [
            Problem(
                "famifund-east",
                "legal_contexts",
                "legal context '' is empty or longer than 64 characters: no request can carry it",
            )
        ],
        {"famifund-east"},
    ),
    (
        "service allowed without legal contexts",
        lambda ds: update_client(ds, "famifund-east", legal_contexts=[]),
        [
            Problem(
                "famifund-east",
                "legal_contexts",
                "service_allowed is true but no legal context is allowed",
            )
        ],
        {"famifund-east"},
    ),
    (
        "CPAS without CBE number",
        cpas_by_sector,
        [
            Problem(
                "cpas-namur",
                "identification.cbeNumber",
                "a CPAS is identified by its CBE number (R-46)",
            )
        ],
        {"cpas-namur"},
    ),
    ("other kinds may use sector and institution", non_cpas_by_sector, [], set()),
    (
        "two clients with the same id",
        duplicate_id,
        [Problem("famifund-east", "id", "2 clients have this id")],
        {"famifund-east"},
    ),
    (
        "two clients with one certificate subject",
        shared_subject,
        [
            clash("cpas-namur", SHARED, "pension-office"),
            clash("pension-office", SHARED, "cpas-namur"),
        ],
        {"cpas-namur", "pension-office"},
    ),
    (
        "one subject written two ways",
        shared_subject_written_differently,
        [
            clash("cpas-namur", "CN=a\\,b,O=x", "pension-office"),
            clash("pension-office", "CN=a\\,b,O=x", "cpas-namur"),
        ],
        {"cpas-namur", "pension-office"},
    ),
    (
        "a subject whose CN is another client's id",
        subject_naming_another_client,
        [
            clash("cpas-namur", "CN=cpas-namur,O=Pension Office", "pension-office"),
            clash("pension-office", "CN=cpas-namur,O=Pension Office", "cpas-namur"),
        ],
        {"cpas-namur", "pension-office"},
    ),
    ("a subject whose CN is the client's own id", subject_naming_itself, [], set()),
    (
        "a subject that is not RFC 4514",
        lambda ds: update_client(ds, "riziv-medical", certificate_subject="not a subject"),
        [Problem("riziv-medical", "certificate_subject", "not an RFC 4514 subject: ")],
        {"riziv-medical"},
    ),
    (
        "integrations naming an unknown client",
        unknown_integration_client,
        [
            Problem(
                None,
                "integrations[].client",
                "1 integration(s) name the unknown client 'CPAS-NAMUR'",
            ),
            Problem(
                None, "integrations[].client", "2 integration(s) name the unknown client 'ghost'"
            ),
        ],
        set(),
    ),
    (
        "a replaced NISS whose replacement is not in the register",
        replaced_by("75010199968"),
        [REPLACEMENT_PROBLEM],
        set(),
    ),
    ("a replaced NISS without replacement", replaced_by(None), [REPLACEMENT_PROBLEM], set()),
    (
        "a NISS registered twice",
        lambda ds: ds.model_copy(
            update={
                "person_register": [
                    *ds.person_register,
                    RegisterEntry(ssin="65031510159", status="canceled"),
                ]
            }
        ),
        [Problem(None, "register[20].ssin", "same NISS as register[0]")],
        set(),
    ),
]


def test_reference_dataset_is_consistent(dataset: Dataset) -> None:
    """R-14: the shipped annex has no problem."""
    assert find_problems(dataset) == []
    assert Annex.from_dataset(dataset).inconsistent_clients == frozenset()


@pytest.mark.parametrize(
    ("change", "problems", "inconsistent"),
    [pytest.param(change, problems, clients, id=name) for name, change, problems, clients in CASES],
)
def test_each_inconsistency(
    dataset: Dataset,
    change: Callable[[Dataset], Dataset],
    problems: list[Problem],
    inconsistent: set[str],
) -> None:
    """R-14 (R-41, R-42 … R-44, R-46, R-50, R-11, R-18): exactly the expected problems."""
    broken = change(dataset)
    assert find_problems(broken) == problems
    annex = Annex.from_dataset(broken)
    assert annex.problems == tuple(problems)
    assert annex.inconsistent_clients == frozenset(inconsistent)


def test_problem_text_names_client_and_field() -> None:
    """R-14: one line per problem, client (or dataset) then field."""
    assert str(Problem("cpas-namur", "filters", "bad")) == "client cpas-namur: filters: bad"
    assert str(Problem(None, "register[3].replaced_by", "bad")) == (
        "dataset: register[3].replaced_by: bad"
    )


# --- presented_by (R-11) -----------------------------------------------------------------------

PENSION_SUBJECT = "CN=pension-cert,O=Pension Office,C=BE"


def by_subject(subject: str, common_name: str | None) -> ClientCertificate:
    return ClientCertificate(
        subject=subject, common_name=common_name, serial="02", sha256="11" * 32
    )


@pytest.mark.parametrize(
    ("presented", "expected"),
    [
        (certificate("cpas-namur"), ["cpas-namur"]),
        (certificate("famifund-east"), ["famifund-east"]),
        (certificate("stranger"), []),
        (certificate(None), []),
        # identified by subject: the whole subject must match, however written
        (by_subject(PENSION_SUBJECT, "pension-cert"), ["pension-office"]),
        (by_subject("CN=pension-cert,O=Other,C=BE", "pension-cert"), []),
        # a client with a subject is no longer identified by its id as common name
        (certificate("pension-office"), []),
    ],
)
def test_presented_by(dataset: Dataset, presented: ClientCertificate, expected: list[str]) -> None:
    """R-11: by common name = id, or by the configured certificate subject."""
    annex = Annex.from_dataset(
        update_client(dataset, "pension-office", certificate_subject=PENSION_SUBJECT)
    )
    assert [client.id for client in annex.presented_by(presented)] == expected


def test_presented_by_compares_normalised_subjects(dataset: Dataset) -> None:
    """R-11: the annex may write a subject differently from the TLS layer (RFC 4514 escapes)."""
    annex = Annex.from_dataset(
        update_client(dataset, "pension-office", certificate_subject="CN=a\\2Cb,O=Pension")
    )
    # what tls.py would report: cryptography's rfc4514_string()
    presented = by_subject("CN=a\\,b,O=Pension", "a,b")
    assert [client.id for client in annex.presented_by(presented)] == ["pension-office"]


def test_presented_by_finds_every_clashing_client(dataset: Dataset) -> None:
    """R-11, R-14: one certificate naming two clients is visible to the caller."""
    annex = Annex.from_dataset(subject_naming_another_client(dataset))
    presented = by_subject("CN=cpas-namur,O=Pension Office", "cpas-namur")
    assert [client.id for client in annex.presented_by(presented)] == [
        "cpas-namur",
        "pension-office",
    ]


# --- check-config (R-14) -------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(value)


def _toml(table: dict[str, Any], prefix: str = "") -> list[str]:
    lines = [f"{key} = {_toml_value(v)}" for key, v in table.items() if not isinstance(v, dict)]
    for key, sub in table.items():
        if isinstance(sub, dict):
            name = f"{prefix}{key}"
            lines += ["", f"[{name}]", *_toml(sub, f"{name}.")]
    return lines


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    clients = json.loads((PROJECT / "config" / "reference-dataset.json").read_text("utf-8"))
    ensure_dev_pki(root, [client["id"] for client in clients["clients"]])
    return root


def _absolute(node: Any, base: Path) -> Any:
    """Every setting naming an existing file or folder next to the config, made absolute."""
    if isinstance(node, dict):
        return {key: _absolute(value, base) for key, value in node.items()}
    if isinstance(node, list):
        return [_absolute(item, base) for item in node]
    if isinstance(node, str) and node and (base / node).exists():
        return (base / node).resolve()
    return node


def write_config(folder: Path, pki: Path, dataset_file: Path) -> Path:
    """config/gateway.toml with absolute paths: the given dataset, the tmp PKI."""
    source = PROJECT / "config" / "gateway.toml"
    raw = _absolute(tomllib.loads(source.read_text(encoding="utf-8")), source.parent)
    raw["tls"] = {
        "certificate": pki / "server.crt",
        "private_key": pki / "server.key",
        "client_ca": [pki / "ca.crt"],
        "client_bindings": pki / "client-bindings.toml",
    }
    raw["supplier"]["tls"] = {
        "ca": [pki / "ca.crt"],
        "certificate": pki / "gateway-client.crt",
        "private_key": pki / "gateway-client.key",
    }
    raw["audit"]["encryption_keys"] = [pki / "audit-encryption.key"]
    raw["audit"]["ssin_hash_key_file"] = pki / "audit-ssin-hash.key"
    raw["data"]["dataset"] = dataset_file
    if "simulator" in raw:
        raw["simulator"]["dataset"] = dataset_file
    config = folder / "gateway.toml"
    config.write_text("\n".join(_toml(raw)) + "\n", encoding="utf-8")
    return config


def check_config(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selfemployed_gateway.cli", "--config", str(config), "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},  # no SEG_ override leaks in
    )


def test_check_config_lists_every_problem(tmp_path: Path, pki: Path) -> None:
    """R-14: exit 1, one line per problem naming the client (or dataset) and the field."""
    raw = json.loads((PROJECT / "config" / "reference-dataset.json").read_text("utf-8"))
    clients = {client["id"]: client for client in raw["clients"]}
    clients["cpas-namur"]["operations"].append("consultAll")
    clients["pension-office"]["filters"].append("ssin")
    clients["riziv-medical"]["integration"]["quality_code"] = None
    raw["integrations"].append(
        {
            "ssin": "65031510159",
            "client": "ghost",
            "quality_code": 1,
            "begin": "2000-01-01",
            "end": None,
        }
    )
    broken = tmp_path / "broken-dataset.json"
    broken.write_text(json.dumps(raw), encoding="utf-8")

    result = check_config(write_config(tmp_path, pki, broken), tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "client cpas-namur: operations: unknown operation 'consultAll' "
        "(known: consultCareer, consultContributions)",
        "client riziv-medical: integration.quality_code: "
        "integration required without a quality code",
        "client pension-office: filters: filter on unknown element 'ssin' "
        "(filterable: occupation, signatureDate)",
        "dataset: integrations[].client: 1 integration(s) name the unknown client 'ghost'",
    ]


def test_check_config_accepts_the_reference_dataset(tmp_path: Path, pki: Path) -> None:
    """R-14: a consistent configuration exits 0."""
    config = write_config(tmp_path, pki, PROJECT / "config" / "reference-dataset.json")
    result = check_config(config, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"{config.resolve()}: configuration OK (6 clients)"]
