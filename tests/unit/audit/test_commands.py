"""``selfemployed-gateway audit show|find|purge`` (R-73) on a SQLite store, in process."""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from selfemployed_gateway.audit.backends import open_audit_store
from selfemployed_gateway.audit.commands import add_audit_commands
from selfemployed_gateway.audit.protection import AuditProtection, new_key_text, parse_key
from selfemployed_gateway.audit.trail import ExchangeRecord
from selfemployed_gateway.decisions import DecisionTrail
from selfemployed_gateway.privacy import redact
from selfemployed_gateway.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
REQUEST = (
    b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    b'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b"<consultCareerRequest><ssin>85073100145</ssin></consultCareerRequest>"
    b"</soapenv:Body></soapenv:Envelope>"
)
RESPONSE = (
    b"<consultCareerResponse><status><value>MSG00000</value></status></consultCareerResponse>"
)


def settings_for(path: Path, retention_days: int = 30) -> Settings:
    return Settings.model_validate(
        {
            "tls": {"certificate": "gw.crt", "private_key": "gw.key", "client_ca": ["ca.crt"]},
            "supplier": {"url": "http://127.0.0.1:4580/inasti/SelfEmployedService"},
            "data": {"dataset": "dataset.json"},
            "contract": {"wsdl": "service.wsdl", "xsd_dir": "xsd"},
            "audit": {
                "backend": "sqlite",
                "sqlite_path": str(path),
                "retention_days": retention_days,
            },
        }
    )


def run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="selfemployed-gateway")
    commands = parser.add_subparsers(required=True)
    add_audit_commands(commands, lambda arguments: settings)
    arguments = parser.parse_args(["audit", *argv])
    result: int = arguments.command(arguments)
    return result


def exchange(
    ticket: str,
    client_ticket: str | None,
    client: str,
    age: timedelta,
    outcome: str = "MSG00000",
    request: bytes = REQUEST,
) -> ExchangeRecord:
    received = NOW - age
    return ExchangeRecord(
        ticket_cbss=ticket,
        client_ticket=client_ticket,
        client_id=client,
        operation="consultCareer",
        legal_context="SOCIAL_INTEGRATION_INCOME",
        received=received,
        replied=received + timedelta(milliseconds=37),
        outcome=outcome,
        duration_ms=37.5,
        request_xml=request,
        response_xml=RESPONSE,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    configured = settings_for(tmp_path / "audit.db")
    assert configured.audit.sqlite_path is not None
    store = open_audit_store(configured.audit)
    for record in (
        exchange("CBSS-OLD", "namur-1", "cpas-namur", timedelta(days=100)),
        exchange("CBSS-OLDER", None, "cpas-liege", timedelta(days=200), outcome="MSG00004"),
        exchange("CBSS-A", "namur-2", "cpas-namur", timedelta(hours=3)),
        exchange("CBSS-B", "liege-1", "cpas-liege", timedelta(hours=2), outcome="MSG00004"),
        exchange("CBSS-C", "namur-3", "cpas-namur", timedelta(hours=1), request=b"not <xml"),
    ):
        store.record(record)
    store.close()
    return configured


def lines(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def test_show_by_bcss_ticket(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(settings, "show", "CBSS-A") == 0

    out = capsys.readouterr().out
    received = NOW - timedelta(hours=3)
    assert "ticketCBSS:    CBSS-A" in out
    assert "client ticket: namur-2" in out
    assert "client:        cpas-namur" in out
    assert "operation:     consultCareer" in out
    assert "legal context: SOCIAL_INTEGRATION_INCOME" in out
    assert f"received:      {received.isoformat(timespec='milliseconds')[:-6]}Z" in out
    assert "outcome:       MSG00000" in out
    assert "duration:      37.5 ms" in out
    # pretty-printed: one element per line, indented
    assert "\n    <consultCareerRequest>\n      <ssin>85073100145</ssin>\n" in out
    assert "\n  <status>\n    <value>MSG00000</value>\n  </status>\n" in out
    assert out.index("--- request ---") < out.index("--- response ---")


def test_show_by_client_ticket(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(settings, "show", "liege-1") == 0

    out = capsys.readouterr().out
    assert "ticketCBSS:    CBSS-B" in out
    assert "outcome:       MSG00004" in out
    assert "=== exchange 1 of 1 (matched by client ticket) ===" in out


def test_show_prints_a_malformed_request_as_received(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, "show", "CBSS-C") == 0
    assert "--- request ---\nnot <xml\n--- response ---" in capsys.readouterr().out


def test_show_unknown_ticket_exits_1(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, "show", "nope") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no exchange with ticket 'nope'" in captured.err


def test_find_lists_newest_first(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(settings, "find") == 0

    rows = lines(capsys.readouterr().out)
    assert [row[1] for row in rows] == ["CBSS-C", "CBSS-B", "CBSS-A", "CBSS-OLD", "CBSS-OLDER"]
    received, ticket, client_ticket, client, operation, context, outcome, duration = rows[1]
    assert received == (NOW - timedelta(hours=2)).isoformat(timespec="milliseconds")[:-6] + "Z"
    assert (ticket, client_ticket, client, operation, context, outcome) == (
        "CBSS-B",
        "liege-1",
        "cpas-liege",
        "consultCareer",
        "SOCIAL_INTEGRATION_INCOME",
        "MSG00004",
    )
    assert duration == "37.5"
    assert rows[4][2] == "-"  # no client ticket


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--client", "cpas-namur"], ["CBSS-C", "CBSS-A", "CBSS-OLD"]),
        (["--code", "MSG00004"], ["CBSS-B", "CBSS-OLDER"]),
        (["--since", (NOW - timedelta(days=150)).date().isoformat()], None),
        (["--since", (NOW - timedelta(hours=2)).isoformat()], ["CBSS-C", "CBSS-B"]),
        (["--client", "cpas-liege", "--code", "MSG00004", "--limit", "1"], ["CBSS-B"]),
        (["--limit", "2"], ["CBSS-C", "CBSS-B"]),
    ],
)
def test_find_filters(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    options: Sequence[str],
    expected: list[str] | None,
) -> None:
    if expected is None:  # since a date: midnight UTC of that day
        expected = ["CBSS-C", "CBSS-B", "CBSS-A", "CBSS-OLD"]
    assert run(settings, "find", *options) == 0
    assert [row[1] for row in lines(capsys.readouterr().out)] == expected


def test_find_nothing_exits_1(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(settings, "find", "--client", "nobody") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no matching exchange" in captured.err


@pytest.mark.parametrize("options", [["--since", "yesterday"], ["--limit", "0"]])
def test_find_rejects_bad_options(settings: Settings, options: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(settings, "find", *options)
    assert exit_.value.code == 2


def test_purge_defaults_to_the_retention_period(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert settings.audit.retention_days == 30
    assert run(settings, "purge") == 0
    assert capsys.readouterr().out.startswith("purged 2 exchange(s) received before ")

    assert run(settings, "find") == 0
    assert [row[1] for row in lines(capsys.readouterr().out)] == ["CBSS-C", "CBSS-B", "CBSS-A"]


def test_purge_older_than(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(settings, "purge", "--older-than", "150") == 0
    assert "purged 1 exchange(s)" in capsys.readouterr().out
    assert run(settings, "purge", "--older-than", "150") == 0
    assert "purged 0 exchange(s)" in capsys.readouterr().out
    assert run(settings, "show", "CBSS-OLDER") == 1


def test_an_unavailable_store_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    settings = settings_for(tmp_path / "file" / "audit.db")
    assert run(settings, "find") == 2
    captured = capsys.readouterr()
    assert "selfemployed-gateway: audit store" in captured.err
    assert "open failed" in captured.err


# --- sealed messages, the right of access, escaping (issue #13) --------------------------


def sealed_settings(folder: Path, *, keys: int = 1) -> Settings:
    """A store whose rows are sealed with the first of `keys` fresh keys, NISS hashed."""
    paths = []
    for number in range(keys):
        path = folder / f"key-{number}"
        path.write_text(new_key_text(), encoding="ascii")
        paths.append(str(path))
    (folder / "ssin.key").write_text(new_key_text(), encoding="ascii")
    configured = settings_for(folder / "audit.db").model_copy(deep=True)
    audit = configured.audit.model_copy(
        update={
            "encryption_keys": [Path(p) for p in paths],
            "ssin_hash_key_file": folder / "ssin.key",
        }
    )
    return configured.model_copy(update={"audit": audit})


def store_sealed(settings: Settings, record: ExchangeRecord, ssin: str | None) -> None:
    protection = AuditProtection.from_settings(settings.audit)
    store = open_audit_store(settings.audit)
    store.record(
        protection.seal(record.model_copy(update={"ssin_hash": protection.ssin_hash(ssin)}))
    )
    store.close()


def test_show_opens_sealed_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = sealed_settings(tmp_path)
    store_sealed(settings, exchange("CBSS-S", "t-1", "cpas-namur", timedelta(0)), "85073100145")
    raw = (tmp_path / "audit.db").read_bytes()
    assert b"85073100145" not in raw and b"consultCareerRequest" not in raw  # sealed at rest
    assert run(settings, "show", "CBSS-S") == 0
    assert "<ssin>85073100145</ssin>" in capsys.readouterr().out


def test_show_without_the_key_names_the_missing_key_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = sealed_settings(tmp_path)
    store_sealed(settings, exchange("CBSS-S", None, "cpas-namur", timedelta(0)), None)
    key_id = AuditProtection.from_settings(settings.audit).sealing_key_id
    without = settings.model_copy(
        update={"audit": settings.audit.model_copy(update={"encryption_keys": []})}
    )
    assert run(without, "show", "CBSS-S") == 2
    captured = capsys.readouterr()
    assert "ticketCBSS:    CBSS-S" in captured.out  # what is not sealed is shown
    assert f"sealed with audit key {key_id}, which is not configured" in captured.out
    assert "85073100145" not in captured.out


def test_find_by_ssin_lists_who_consulted_this_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = sealed_settings(tmp_path)
    person, other = "72060120261", "65031510159"
    store_sealed(settings, exchange("CBSS-1", "n-1", "cpas-namur", timedelta(hours=2)), person)
    store_sealed(settings, exchange("CBSS-2", None, "cpas-liege", timedelta(hours=1)), other)
    store_sealed(settings, exchange("CBSS-3", "n-3", "onss", timedelta(0)), person)
    assert run(settings, "find", "--ssin", "72.06.01-202.61") == 0  # as written on the card
    rows = lines(capsys.readouterr().out)
    assert [(row[1], row[2], row[3], row[5]) for row in rows] == [
        ("CBSS-3", "n-3", "onss", "SOCIAL_INTEGRATION_INCOME"),
        ("CBSS-1", "n-1", "cpas-namur", "SOCIAL_INTEGRATION_INCOME"),
    ]
    assert run(settings, "find", "--ssin", "90101007731") == 1


def test_find_by_ssin_needs_the_hash_key(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, "find", "--ssin", "72060120261") == 2
    assert "NISS hash key" in capsys.readouterr().err
    assert run(settings, "find", "--ssin", "72060120262") == 2  # wrong checksum: said so
    assert "not a valid NISS" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("fake\n2099-01-01T00:00:00.000Z\tFORGED", "fake\\x0a2099-01-01T00:00:00.000Z\\x09FORGED"),
        ("\x1b[2J\x9b31m", "\\x1b[2J\\x9b31m"),
        ("abc\u202edcba\u2066", "abc\\u202edcba\\u2066"),
        ("back\\x0a", "back\\\\x0a"),  # a written-out escape stays distinguishable
    ],
)
def test_stored_text_cannot_forge_rows_or_drive_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stored: str, shown: str
) -> None:
    settings = settings_for(tmp_path / "audit.db")
    store = open_audit_store(settings.audit)
    request = f"<r><t>{stored}</t></r>".encode()
    store.record(exchange("CBSS-X", stored, "cpas-namur", timedelta(0), request=request))
    store.close()
    assert run(settings, "find") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.split("\t")[2] == shown
    assert run(settings, "show", stored) == 0
    out = capsys.readouterr().out
    assert f"client ticket: {shown}\n" in out and f"<t>{shown}</t>" in out
    assert all(c.isprintable() or c == "\n" for c in out)


def test_new_key_prints_a_usable_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(settings_for(tmp_path / "a.db"), "new-key") == 0
    text = capsys.readouterr().out
    assert len(parse_key(text, "printed")) == 32


def test_show_puts_the_bcss_ticket_first_and_says_how_each_matched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A caller that sends another exchange's ticketCBSS as its own client ticket does not
    come first (issue #13 review)."""
    settings = settings_for(tmp_path / "audit.db")
    store = open_audit_store(settings.audit)
    store.record(exchange("CBSS-REAL", "namur-1", "cpas-namur", timedelta(hours=1)))
    store.record(exchange("CBSS-OTHER", "CBSS-REAL", "famifund-east", timedelta(0)))
    store.close()
    assert run(settings, "show", "CBSS-REAL") == 0
    out = capsys.readouterr().out
    first, second = out.split("=== exchange 2 of 2")
    assert "(matched by ticketCBSS)" in first and "ticketCBSS:    CBSS-REAL" in first
    assert "(matched by client ticket)" in second and "famifund-east" in second


def test_a_niss_in_a_client_ticket_is_stored_as_its_tag_and_still_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gateway stores free texts redacted (exchange.py); show redacts the query alike."""
    settings = settings_for(tmp_path / "audit.db")
    store = open_audit_store(settings.audit)
    store.record(exchange("CBSS-N", redact("case 65031510159"), "cpas-namur", timedelta(0)))
    store.close()
    assert b"65031510159" not in (tmp_path / "audit.db").read_bytes()
    assert run(settings, "show", "case 65031510159") == 0
    assert "ticketCBSS:    CBSS-N" in capsys.readouterr().out


# --- audit explain (issue #18) -----------------------------------------------------------


def trail_json(because: str) -> bytes:
    trail = DecisionTrail(configuration="sha256:0123456789abcdef")
    trail.answered("NISS", "R-17", because=because, register="unknown")
    return trail.to_json()


def test_explain_prints_the_sealed_trail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = sealed_settings(tmp_path)
    record = exchange("CBSS-E", "t-1", "cpas-namur", timedelta(0), outcome="MSG00005")
    store_sealed(settings, record.model_copy(update={"decisions": trail_json("unknown")}), None)
    assert run(settings, "explain", "CBSS-E") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[4:] == [
        "outcome:       MSG00005",
        "configuration: sha256:0123456789abcdef",
        "1. NISS: ANSWERED",
        "   rule R-17 — NISS exists",
        "   register: unknown",
        "   because: unknown",
    ]


@pytest.mark.parametrize(
    "stored",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"format":2,"steps":[]}',
        b'{"format":1,"steps":[{"stage":"x"}]}',
        b'{"format":1,"steps":[{"stage":"x","verdict":"deferred"}]}',
        b'{"format":1,"steps":[{"stage":"x","verdict":"passed","because":5}]}',
        b'{"format":1,"steps":[{"stage":"x","verdict":"passed","facts":[1]}]}',
        b'{"format":1,"steps":["a"]}',
        b'{"format":1,"configuration":7}',
    ],
)
def test_explain_names_an_unreadable_trail_and_shows_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stored: bytes
) -> None:
    """A damaged row is one line and exit 2, never a traceback; the other exchange with the
    same ticket is still explained (found by the reviewer of issue #18)."""
    settings = settings_for(tmp_path / "audit.db")
    store = open_audit_store(settings.audit)
    store.record(
        exchange("CBSS-1", "same", "cpas-namur", timedelta(hours=1)).model_copy(
            update={"decisions": stored}
        )
    )
    store.record(
        exchange("CBSS-2", "same", "cpas-namur", timedelta(hours=2)).model_copy(
            update={"decisions": trail_json("kept")}
        )
    )
    store.close()
    assert run(settings, "explain", "same") == 2
    out = capsys.readouterr().out
    assert "--- decision trail not shown: " in out
    assert "   because: kept" in out


def test_a_damaged_message_does_not_hide_an_intact_trail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """explain opens the trail only: it needs no message (and opens no personal data)."""
    settings = sealed_settings(tmp_path)
    record = exchange("CBSS-D", "t-1", "cpas-namur", timedelta(0))
    store_sealed(settings, record.model_copy(update={"decisions": trail_json("intact")}), None)
    with sqlite3.connect(tmp_path / "audit.db") as connection:
        connection.execute("UPDATE audit_exchange SET request_xml = x'00'")
    assert run(settings, "explain", "CBSS-D") == 0
    assert "   because: intact" in capsys.readouterr().out


def test_an_exchange_without_a_trail_says_so(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, "explain", "CBSS-A") == 1
    assert "--- no decision trail stored" in capsys.readouterr().out
