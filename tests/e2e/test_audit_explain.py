"""`audit explain` on the exchange of every case of the annex (issue #18, R-73).

Each test case of the testers' kit (tests/soapui: one per status and fault code of the annex,
R-27 and R-28 included) is sent as the kit sends it; then `selfemployed-gateway audit
explain` — the real command, on that gateway's own audit trail — must print the stages that
passed, in order, and the one that answered with the deciding rule and its words, the facts
and what would have changed the outcome, exactly (a supplier call's duration aside).
MSG00025, of the transitional phase only, has its own test.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from lxml import etree

from selfemployed_gateway import codes
from selfemployed_gateway.configuration import configuration_digest, load_settings
from selfemployed_gateway.devpki import DevPki
from tests.e2e.conftest import GatewayFactory, tls_context
from tests.e2e.test_soapui_kit import (  # noqa: F401  (the kit's fixtures)
    CASES,
    KIT_ENDPOINT,
    KitCase,
    bundle_contexts,
    gateway_for,
    inconsistent_annex,
)
from tests.support.processes import PROJECT, Server
from tests.support.soap import ACTION, UUID, contributions_request, customer

MSG00025_DECIDING = (
    "2. phase: ANSWERED",
    "   rule R-60 — Transitional phase",
    "   phase: transitional",
    "   operation: consultContributions",
    "   because: in the transitional phase INASTI is called through L302, which cannot answer consultContributions",
)


class Explained(NamedTuple):
    """What `audit explain` must print for one case (examples/README.md's table)."""

    outcome: str
    client: str
    passed: tuple[str, ...]
    deciding: tuple[str, ...]


EXPECTED: dict[str, Explained] = {
    "consultCareer-DATA_FOUND": Explained(
        "MSG00000",
        "cpas-namur",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-30, R-31, R-32)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40, R-41, R-44, R-46)",
            "integration: passed (R-21)",
            "supplier call: passed (R-22)",
            "interpretation: passed (R-23)",
            "filtering: passed (R-55, R-24, R-50)",
        ),
        deciding=(
            "10. reply: ANSWERED",
            "   rule R-25 — Reply",
            "   status: MSG00000",
            "   affiliations: 2",
            "   segments: 2",
        ),
    ),
    "consultCareer-MSG00002-garbage": Explained(
        "MSG00002",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40)",
            "integration: passed (R-21)",
        ),
        deciding=(
            "7. supplier call: ANSWERED",
            "   rule R-22 — Supplier call",
            "   details: Unexpected response from supplier",
            "   cause: not well-formed XML: Start tag expected, '<' not found, line 1, column 1 (<string>, line 1)",
            "   duration_ms: <ms>",
            "   because: INASTI's answer could not be read as a valid answer",
        ),
    ),
    "consultCareer-MSG00002-slow": Explained(
        "MSG00002",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40)",
            "integration: passed (R-21)",
        ),
        deciding=(
            "7. supplier call: ANSWERED",
            "   rule R-22 — Supplier call",
            "   rule R-65 — Supplier time budget",
            "   details: No answer from supplier within the time budget",
            "   cause: TimeoutError",
            "   duration_ms: <ms>",
            "   because: INASTI did not answer within the gateway's time budget",
        ),
    ),
    "consultCareer-MSG00002-soap-fault": Explained(
        "MSG00002",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40)",
            "integration: passed (R-21)",
        ),
        deciding=(
            "7. supplier call: ANSWERED",
            "   rule R-22 — Supplier call",
            "   details: Unexpected return code from supplier",
            "   cause: HTTP 500, SOAP Fault soapenv:Server: Internal error at INASTI (simulated)",
            "   duration_ms: <ms>",
            "   because: INASTI answered with an unexpected return code",
        ),
    ),
    "consultCareer-MSG00003-client-rate": Explained(
        "MSG00003",
        "cpas-namur",
        passed=(),
        deciding=(
            "1. admission: ANSWERED",
            "   rule R-28 — Admission limits",
            "   client: cpas-namur",
            "   limit: client_rate",
            "   rate_per_second: 1.0",
            "   burst: 1.0",
            "   because: cpas-namur called faster than its rate of 1 a second (bursts of 1): retry after Retry-After",
        ),
    ),
    "consultCareer-MSG00003-inconsistent-annex": Explained(
        "MSG00003",
        "riziv-medical",
        passed=(),
        deciding=(
            "1. authorisation: ANSWERED",
            "   rule R-14 — Inconsistent authorisation configuration",
            "   client: riziv-medical",
            "   inconsistency: filters: filter on unknown element 'birthDate' (filterable: occupation, signatureDate)",
            "   because: the annex entry of this client contradicts the configuration (check-config lists it): no request of it is answered until it is fixed",
        ),
    ),
    "consultCareer-MSG00004-header-after-body": Explained(
        "MSG00004",
        "cpas-namur",
        passed=(),
        deciding=(
            "1. primary validation: ANSWERED",
            "   rule R-27 — SOAP 1.1 envelope rules",
            "   error message: The Header must be the first child of the Envelope",
            "   because: the request breaks the contract as the error message says: fix it; the same request gets the same answer",
        ),
    ),
    "consultCareer-MSG00004-schema-invalid": Explained(
        "MSG00004",
        "cpas-namur",
        passed=(),
        deciding=(
            "1. primary validation: ANSWERED",
            "   rule R-10 — Primary validation",
            "   error message: Element 'unexpected': This element is not expected. Expected is ( criteria ).",
            "   because: the request breaks the contract as the error message says: fix it; the same request gets the same answer",
        ),
    ),
    "consultCareer-MSG00004-two-body-children": Explained(
        "MSG00004",
        "cpas-namur",
        passed=(),
        deciding=(
            "1. primary validation: ANSWERED",
            "   rule R-27 — SOAP 1.1 envelope rules",
            "   error message: The SOAP Body must hold exactly one request element, not 2",
            "   because: the request breaks the contract as the error message says: fix it; the same request gets the same answer",
        ),
    ),
    "consultCareer-MSG00004-two-headers": Explained(
        "MSG00004",
        "cpas-namur",
        passed=(),
        deciding=(
            "1. primary validation: ANSWERED",
            "   rule R-27 — SOAP 1.1 envelope rules",
            "   error message: At most one Header is allowed in a SOAP 1.1 envelope",
            "   because: the request breaks the contract as the error message says: fix it; the same request gets the same answer",
        ),
    ),
    "consultCareer-MSG00005": Explained(
        "MSG00005",
        "cpas-namur",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
        ),
        deciding=(
            "4. NISS: ANSWERED",
            "   rule R-17 — NISS exists",
            "   ssin: 75010199968",
            "   register: unknown",
            "   because: the person register does not know this NISS",
        ),
    ),
    "consultCareer-MSG00006": Explained(
        "MSG00006",
        "cpas-namur",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
        ),
        deciding=(
            "4. NISS: ANSWERED",
            "   rule R-18 — NISS not replaced",
            "   ssin: 80022904503",
            "   register: replaced",
            "   replaced_by: 90101007731",
            "   replacement_canceled: no",
            "   because: the person register says this NISS is replaced by 90101007731: the answer names it; ask again with the new number",
        ),
    ),
    "consultCareer-MSG00008-career": Explained(
        "MSG00008",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
        ),
        deciding=(
            "3. dates: ANSWERED",
            "   rule R-30 — Career: beginDate not before 1956-07-01",
            "   rule R-31 — Career: endDate not before beginDate",
            "   R-30: beginDate 1956-06-30 is before 1956-07-01: broken",
            "   R-31: endDate 1956-06-29 is before beginDate 1956-06-30: broken",
            "   R-32: no date after today 2026-11-26: holds",
            "   because: beginDate 1956-06-30 is before 1956-07-01 (R-30); endDate 1956-06-29 is before beginDate 1956-06-30 (R-31)",
        ),
    ),
    "consultCareer-MSG00011": Explained(
        "MSG00011",
        "cpas-namur",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
        ),
        deciding=(
            "4. NISS: ANSWERED",
            "   rule R-16 — NISS structure and checksum",
            "   ssin: 65031510158",
            "   check: checksum",
            "   check_digits: 58",
            "   expected: 59; 88",
            "   because: the check digits 58 of this NISS are neither 59 (97 − first 9 digits mod 97, born before 2000) nor 88 (the same with the 2 prefix, born from 2000)",
        ),
    ),
    "consultCareer-MSG00012": Explained(
        "MSG00012",
        "riziv-medical",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
            "NISS: passed (R-16, R-17, R-18)",
        ),
        deciding=(
            "5. integration: ANSWERED",
            "   rule R-20 — Integration for the client",
            "   rule R-41 — Integration under the client's quality code",
            "   client: riziv-medical",
            "   mode: Ignore",
            "   required: yes",
            "   quality_code: 1",
            "   extension_days_before: 0",
            "   extension_days_after: 0",
            "   periods_after_extension: none",
            "   other_quality_codes: none",
            "   because: no integration of riziv-medical for this person under quality code 1",
        ),
    ),
    "consultCareer-MSG00013-identification": Explained(
        "MSG00013",
        "cpas-namur",
        passed=(),
        deciding=(
            "1. authorisation: ANSWERED",
            "   rule R-13 — Authorisation of operation, legal context and informationCustomer",
            "   client: cpas-namur",
            "   operation: consultCareer",
            "   legal_context: PCSA:SOCIAL_INQUIRY",
            "   identification: CBE 0234567873",
            "   allowed_operations: consultCareer; consultContributions",
            "   allowed_legal_contexts: PCSA:SOCIAL_INQUIRY",
            "   allowed_identification: CBE 0212345668",
            "   because: the annex does not allow cpas-namur this customerIdentification CBE 0234567873 (the client is CBE 0212345668)",
        ),
    ),
    "consultCareer-MSG00013-legal-context": Explained(
        "MSG00013",
        "cpas-namur",
        passed=(),
        deciding=(
            "1. authorisation: ANSWERED",
            "   rule R-13 — Authorisation of operation, legal context and informationCustomer",
            "   client: cpas-namur",
            "   operation: consultCareer",
            "   legal_context: PENSION:CAREER_CHECK",
            "   identification: CBE 0212345668",
            "   allowed_operations: consultCareer; consultContributions",
            "   allowed_legal_contexts: PCSA:SOCIAL_INQUIRY",
            "   allowed_identification: CBE 0212345668",
            "   because: the annex does not allow cpas-namur this legal context PENSION:CAREER_CHECK (allowed: PCSA:SOCIAL_INQUIRY)",
        ),
    ),
    "consultCareer-MSG00015-stranger": Explained(
        "MSG00015",
        "-",
        passed=(),
        deciding=(
            "1. authorisation: ANSWERED",
            "   rule R-11 — Authentication",
            "   subject: CN=stranger,O=selfemployed-gateway dev",
            "   issuer: CN=selfemployed-gateway development CA,O=selfemployed-gateway dev",
            "   because: no client of the annex is bound to this certificate (subject and issuer)",
        ),
    ),
    "consultCareer-MSG00015-suspended": Explained(
        "MSG00015",
        "suspended-institution",
        passed=(),
        deciding=(
            "1. authorisation: ANSWERED",
            "   rule R-12 — Authorisation for the service",
            "   client: suspended-institution",
            "   service_allowed: no",
            "   because: the annex suspends this client's access to the service",
        ),
    ),
    "consultCareer-MSG00021": Explained(
        "MSG00021",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40)",
        ),
        deciding=(
            "6. integration: ANSWERED",
            "   rule R-21 — Integration at the supplier",
            "   inasti: none",
            "   consulted: 1956-07-01 …",
            "   because: INASTI knows this person under quality 2 or 102 on no day of the consulted period",
        ),
    ),
    "consultCareer-MSG00100-person": Explained(
        "MSG00100",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40)",
            "integration: passed (R-21)",
            "supplier call: passed (R-22)",
        ),
        deciding=(
            "8. interpretation: ANSWERED",
            "   rule R-23 — Interpretation of the supplier answer",
            "   outcome: NO_DATA_FOR_PERSON",
            "   status: MSG00100",
            "   reason: No data for requested person",
            "   because: INASTI answered that it has no data for this person",
        ),
    ),
    "consultCareer-MustUnderstand": Explained(
        "MustUnderstand",
        "cpas-namur",
        passed=(),
        deciding=(
            "1. primary validation: ANSWERED",
            "   rule R-27 — SOAP 1.1 envelope rules",
            "   header: {http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}Security",
            '   because: a header block is marked mustUnderstand="1" and the gateway processes no header block: remove the attribute or the block',
        ),
    ),
    "consultCareer-SES00006": Explained(
        "SES00006",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-33)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40)",
            "integration: passed (R-21)",
            "supplier call: passed (R-22)",
        ),
        deciding=(
            "8. interpretation: ANSWERED",
            "   rule R-23 — Interpretation of the supplier answer",
            "   outcome: SES00006",
            "   status: SES00006",
            "   because: INASTI answered that this person's file is under investigation (passed on as SES00006)",
        ),
    ),
    "consultContributions-MSG00000": Explained(
        "MSG00000",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-34, R-35, R-36)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40)",
            "integration: passed (R-21)",
            "supplier call: passed (R-22)",
            "interpretation: passed (R-23)",
            "filtering: passed (R-24)",
        ),
        deciding=(
            "10. reply: ANSWERED",
            "   rule R-25 — Reply",
            "   status: MSG00000",
            "   contributions: 4",
        ),
    ),
    "consultContributions-MSG00008-quarters": Explained(
        "MSG00008",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
        ),
        deciding=(
            "3. dates: ANSWERED",
            "   rule R-34 — Contributions: beginQuarter at most 10 years back",
            "   rule R-35 — Contributions: endQuarter not before beginQuarter",
            "   R-34: beginQuarter 2016Q1 is before 2016Q4 (10 years before today 2026-11-26): broken",
            "   R-35: endQuarter 2015Q4 is before beginQuarter 2016Q1: broken",
            "   R-36: no quarter after the current quarter 2026Q4: holds",
            "   because: beginQuarter 2016Q1 is before 2016Q4 (10 years before today 2026-11-26) (R-34); endQuarter 2015Q4 is before beginQuarter 2016Q1 (R-35)",
        ),
    ),
    "consultContributions-MSG00013-operation": Explained(
        "MSG00013",
        "pension-office",
        passed=(),
        deciding=(
            "1. authorisation: ANSWERED",
            "   rule R-13 — Authorisation of operation, legal context and informationCustomer",
            "   client: pension-office",
            "   operation: consultContributions",
            "   legal_context: PENSION:CAREER_CHECK",
            "   identification: CBE 0345678997",
            "   allowed_operations: consultCareer",
            "   allowed_legal_contexts: PENSION:CAREER_CHECK",
            "   allowed_identification: CBE 0345678997",
            "   because: the annex does not allow pension-office this operation consultContributions (allowed: consultCareer)",
        ),
    ),
    "consultContributions-MSG00100-period": Explained(
        "MSG00100",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-34, R-35, R-36)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40)",
            "integration: passed (R-21)",
            "supplier call: passed (R-22)",
        ),
        deciding=(
            "8. interpretation: ANSWERED",
            "   rule R-23 — Interpretation of the supplier answer",
            "   outcome: NO_DATA_FOR_PERIOD",
            "   status: MSG00100",
            "   reason: No data for requested period",
            "   because: INASTI answered that it has no data for this person in the consulted period",
        ),
    ),
    "consultContributions-SES00005": Explained(
        "SES00005",
        "onss-inspection",
        passed=(
            "authorisation: passed (R-11, R-12, R-14, R-13)",
            "phase: passed (R-60)",
            "dates: passed (R-15, R-34, R-35, R-36)",
            "NISS: passed (R-16, R-17, R-18)",
            "integration: passed (R-20, R-40)",
            "integration: passed (R-21)",
            "supplier call: passed (R-22)",
        ),
        deciding=(
            "8. interpretation: ANSWERED",
            "   rule R-23 — Interpretation of the supplier answer",
            "   outcome: SES00005",
            "   status: SES00005",
            "   because: INASTI answered that a social insurance fund did not reply in time (passed on as SES00005)",
        ),
    ),
}


def config_of(server: Server) -> str:
    arguments = server.process.args
    assert isinstance(arguments, list)
    return str(arguments[arguments.index("--config") + 1])


def explain(server: Server, ticket: str) -> list[str]:
    """`audit explain TICKET` with the gateway's own configuration: its lines."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "selfemployed_gateway.cli",
            "--config",
            config_of(server),
            "audit",
            "explain",
            ticket,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=PROJECT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def ticket_of(answer: bytes, request: str) -> str:
    """The answer's ticketCBSS; the request's own ticket where the answer carries none (the
    MustUnderstand fault has no detail, R-27: the client's ticket finds it)."""
    found = etree.fromstring(answer).findtext(".//informationCBSS/ticketCBSS")
    if found:
        return found
    ticket = etree.fromstring(request.encode()).findtext(".//informationCustomer/ticket")
    assert ticket, request
    return ticket


def send(case: KitCase, server: Server, context: ssl.SSLContext) -> bytes:
    """The case's steps in order, as the kit sends them; the last answer."""
    answer = b""
    with httpx.Client(verify=context, timeout=15) as client:
        for step in case.steps:
            answer = client.post(
                step.endpoint.replace(KIT_ENDPOINT, server.urls["soap"]),
                content=step.request.encode("utf-8"),
                headers={
                    "Content-Type": "text/xml;charset=UTF-8",
                    "SOAPAction": f'"{ACTION}{step.operation}"',
                },
            ).content
    return answer


def check(lines: list[str], server: Server, ticket: str, expected: Explained) -> None:
    """The header, the configuration in force, the passed steps, the deciding one."""
    header = dict(line.split(":", 1) for line in lines[:6])
    ticket_cbss = header["ticketCBSS"].strip()
    assert ticket_cbss == ticket or UUID.match(ticket_cbss), lines
    assert header["client"].strip() == expected.client
    assert header["outcome"].strip() == expected.outcome
    assert header["received"].strip() == "2026-11-26T09:00:00.000Z"  # the frozen clock
    digest = configuration_digest(load_settings(Path(config_of(server))))
    assert header["configuration"].strip() == digest
    body = lines[6:]
    steps = [line.split(". ", 1)[1] for line in body if re.match(r"^\d+\. ", line)]
    assert tuple(steps[:-1]) == expected.passed, "\n".join(lines)
    first = next(i for i, line in enumerate(body) if line.endswith(": ANSWERED"))
    deciding = [
        re.sub(r"^   duration_ms: \d+$", "   duration_ms: <ms>", line) for line in body[first:]
    ]
    assert tuple(deciding) == expected.deciding, "\n".join(lines)


def test_every_case_of_the_kit_is_explained() -> None:
    """Each status and fault code of the kit has its expected explanation here."""
    assert sorted(EXPECTED) == sorted(case.name for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_audit_explain_names_the_deciding_rule_and_its_facts(
    case: KitCase,
    bundle_contexts: dict[str, ssl.SSLContext],  # noqa: F811
    gateway_for: Callable[[str | None], Server],  # noqa: F811
) -> None:
    server = gateway_for(case.properties.get("gatewaySetup"))
    answer = send(case, server, bundle_contexts[case.client])
    ticket = ticket_of(answer, case.steps[-1].request)
    check(explain(server, ticket), server, ticket, EXPECTED[case.name])


def test_msg00025_in_the_transitional_phase(pki: DevPki, gateway_with: GatewayFactory) -> None:
    """R-60: consultContributions while INASTI is reached through L302."""
    server = gateway_with.server(env={"SEG_PHASE": "transitional"})
    body = contributions_request(
        customer(sector=21, institution=0),
        "SOCIAL_INSPECTION:INVESTIGATION",
        "65031510159",
        "2024Q1",
        "2024Q4",
    )
    with httpx.Client(verify=tls_context(pki, "onss-inspection"), timeout=15) as client:
        answer = client.post(
            server.urls["soap"], content=body.encode(), headers={"Content-Type": "text/xml"}
        ).content
    ticket = ticket_of(answer, body)
    expected = Explained(
        codes.NOT_AVAILABLE.code,
        "onss-inspection",
        passed=("authorisation: passed (R-11, R-12, R-14, R-13)",),
        deciding=MSG00025_DECIDING,
    )
    check(explain(server, ticket), server, ticket, expected)
