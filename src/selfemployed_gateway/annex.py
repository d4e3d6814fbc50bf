"""The annex per client, checked for consistency (R-14).

A client entry that contradicts itself or the rest of the configuration is not refused at
start-up: requests of that client are answered MSG00003 with the R-14 information, and
`selfemployed-gateway check-config` lists every problem before deployment.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from selfemployed_gateway.bindings import ClientBindings
from selfemployed_gateway.dataset import ClientEntry, Dataset
from selfemployed_gateway.records import ClientCertificate, Operation
from selfemployed_gateway.stages.filtering import FILTERABLE_ELEMENTS

# common:LegalContextType is at most 64 characters: a longer context can never be sent.
LEGAL_CONTEXT_MAX = 64


@dataclass(frozen=True)
class Problem:
    """One inconsistency, naming the client (None: not a client's) and the field."""

    client: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"client {self.client}" if self.client is not None else "dataset"
        return f"{where}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Annex:
    clients: tuple[ClientEntry, ...]
    problems: tuple[Problem, ...]
    # Each client's certificate (bindings.py). None: the development fallback of R-11, by
    # `certificate_subject` or common name, which production refuses (production.py).
    bindings: ClientBindings | None = None

    @classmethod
    def from_dataset(cls, dataset: Dataset, bindings: ClientBindings | None = None) -> Annex:
        return cls(
            clients=tuple(dataset.clients),
            problems=tuple(find_problems(dataset)),
            bindings=bindings,
        )

    @property
    def inconsistent_clients(self) -> frozenset[str]:
        return frozenset(p.client for p in self.problems if p.client is not None)

    def presented_by(self, certificate: ClientCertificate) -> list[ClientEntry]:
        """R-11: the clients this certificate identifies (more than one is inconsistent).

        None for a certificate unfit for client authentication (a CA's, no clientAuth)."""
        if certificate.unfit_because is not None:
            return []
        if self.bindings is not None:
            bindings = self.bindings
            return [
                client
                for client in self.clients
                if (binding := bindings.get(client.id)) is not None and binding.matches(certificate)
            ]
        subject = normalised_subject(certificate.subject)
        return [
            client
            for client in self.clients
            if (
                normalised_subject(client.certificate_subject) == subject
                if client.certificate_subject is not None
                else certificate.common_name == client.id
            )
        ]


def find_problems(dataset: Dataset) -> list[Problem]:
    """Every inconsistency of the annex, in file order."""
    problems: list[Problem] = []
    for client in dataset.clients:
        problems.extend(_client_problems(client))
    problems.extend(_duplicates(dataset.clients))
    problems.extend(_dangling_references(dataset))
    return problems


def _client_problems(client: ClientEntry) -> list[Problem]:
    found: list[Problem] = []

    def problem(field: str, message: str) -> None:
        found.append(Problem(client.id, field, message))

    known_operations = {operation.value for operation in Operation}
    for operation in client.operations:
        if operation not in known_operations:
            problem(
                "operations",
                f"unknown operation {operation!r} (known: {', '.join(sorted(known_operations))})",
            )
    for element in client.filters:
        if element not in FILTERABLE_ELEMENTS:
            problem(
                "filters",
                f"filter on unknown element {element!r} "
                f"(filterable: {', '.join(FILTERABLE_ELEMENTS)})",
            )
    for context in client.legal_contexts:
        if not context or len(context) > LEGAL_CONTEXT_MAX:
            problem(
                "legal_contexts",
                f"legal context {context!r} is empty or longer than "
                f"{LEGAL_CONTEXT_MAX} characters: no request can carry it",
            )
    if client.service_allowed and not client.operations:
        problem("operations", "service_allowed is true but no operation is allowed")
    if client.service_allowed and not client.legal_contexts:
        problem("legal_contexts", "service_allowed is true but no legal context is allowed")
    rule = client.integration
    if rule.required and rule.quality_code is None:
        problem("integration.quality_code", "integration required without a quality code")
    if rule.required and rule.period_check is None:
        problem(
            "integration.period_check",
            "integration required without a period check (Ignore, CurrentDate, FullyIncluded)",
        )
    if client.kind == "CPAS" and client.identification.cbeNumber is None:
        problem("identification.cbeNumber", "a CPAS is identified by its CBE number (R-46)")
    if client.certificate_subject is not None:
        try:
            x509.Name.from_rfc4514_string(client.certificate_subject)
        except ValueError as error:
            problem("certificate_subject", f"not an RFC 4514 subject: {error}")
    return found


def _duplicates(clients: list[ClientEntry]) -> list[Problem]:
    found: list[Problem] = []
    for client_id, count in Counter(client.id for client in clients).items():
        if count > 1:
            found.append(Problem(client_id, "id", f"{count} clients have this id"))
    # Two clients one certificate could present: equal subjects, or a subject whose common
    # name is the id of a client identified by common name only.
    by_subject: dict[str, list[str]] = {}
    cn_only = {client.id for client in clients if client.certificate_subject is None}
    for client in clients:
        subject = normalised_subject(client.certificate_subject)
        if subject is None:
            continue
        by_subject.setdefault(subject, []).append(client.id)
        for common_name in _common_names(subject):
            if common_name in cn_only:
                found.extend(_clash([client.id, common_name], subject))
    for subject, owners in by_subject.items():
        if len(set(owners)) > 1:
            found.extend(_clash(owners, subject))
    return found


def _clash(owners: list[str], subject: str) -> list[Problem]:
    distinct = sorted(set(owners))
    return [
        Problem(
            owner,
            "certificate_subject",
            f"certificate {subject!r} also identifies "
            + ", ".join(other for other in distinct if other != owner),
        )
        for owner in distinct
    ]


@functools.lru_cache(maxsize=1024)
def normalised_subject(subject: str | None) -> str | None:
    """An RFC 4514 subject as cryptography writes it (None stays None, bad text as is).

    Remembered: parsing costs ~120 µs, and every exchange names its client twice (admission
    control before the pipeline, R-28, then R-11 in it) with the same few subjects."""
    if subject is None:
        return None
    try:
        return x509.Name.from_rfc4514_string(subject).rfc4514_string()
    except ValueError:
        return subject


def _common_names(subject: str) -> list[str]:
    try:
        name = x509.Name.from_rfc4514_string(subject)
    except ValueError:
        return []
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _dangling_references(dataset: Dataset) -> list[Problem]:
    found: list[Problem] = []
    client_ids = {client.id for client in dataset.clients}
    unknown = Counter(i.client for i in dataset.integrations if i.client not in client_ids)
    for client_id, count in sorted(unknown.items()):
        found.append(
            Problem(
                None,
                "integrations[].client",
                f"{count} integration(s) name the unknown client {client_id!r}",
            )
        )
    registered = {person.ssin: person for person in dataset.person_register}
    # The register's key: a NISS listed twice cannot be loaded (registry.sqlite refuses it).
    # Entries are named by position: a NISS is personal data, never printed.
    first_seen: dict[str, int] = {}
    for index, person in enumerate(dataset.person_register):
        if person.ssin in first_seen:
            found.append(
                Problem(
                    None,
                    f"register[{index}].ssin",
                    f"same NISS as register[{first_seen[person.ssin]}]",
                )
            )
        else:
            first_seen[person.ssin] = index
    for index, person in enumerate(dataset.person_register):
        if person.status == "replaced" and (
            person.replaced_by is None or person.replaced_by not in registered
        ):
            found.append(
                Problem(
                    None,
                    f"register[{index}].replaced_by",
                    "a replaced NISS must name a replacement known to the register",
                )
            )
    return found
