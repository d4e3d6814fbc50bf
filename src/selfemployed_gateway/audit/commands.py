"""``selfemployed-gateway audit show|find|purge``: the service desk's view of the trail (R-73).

``audit show TICKET`` prints every exchange whose BCSS ticket or client ticket is TICKET,
with both messages pretty-printed (this is the one place they are shown: they hold personal
data, so the command is for the service desk on the gateway's host, and nothing is logged);
``audit find`` lists exchanges one per line (tab-separated), ``--ssin`` those about one person
(by the keyed hash stored with each, nothing decrypted); ``audit purge`` deletes the
exchanges older than the retention period; ``audit new-key`` prints a key. Everything printed
from the trail is escaped (`escaped`): a stored value cannot forge a line or drive the
terminal. Storage failures print one line on stderr and exit 2, like the other commands'.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lxml import etree

from selfemployed_gateway.audit.backends import open_audit_store
from selfemployed_gateway.audit.explain import explanation
from selfemployed_gateway.audit.protection import AuditProtection, MissingAuditKey, new_key_text
from selfemployed_gateway.audit.trail import AuditStore, ExchangeRecord
from selfemployed_gateway.decisions import DecisionTrail, UnreadableTrail
from selfemployed_gateway.errors import AuditError
from selfemployed_gateway.privacy import digits_of, redact
from selfemployed_gateway.settings import Settings
from selfemployed_gateway.stages.niss import checksum_valid
from selfemployed_gateway.xmlsafe import ExternalResourceRefused, hardened_parser

PROG = "selfemployed-gateway"

Command = Callable[[argparse.Namespace], int]
SettingsLoader = Callable[[argparse.Namespace], Settings]


def add_audit_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    load_settings: SettingsLoader,
) -> None:
    """Add ``audit show|explain|find|purge|new-key`` to a command line (R-73)."""
    audit = subparsers.add_parser(
        "audit", help="find exchanges in the audit trail (R-73), purge old ones"
    )
    commands = audit.add_subparsers(required=True, metavar="AUDIT_COMMAND")

    show = commands.add_parser(
        "show",
        help="every exchange with this BCSS ticket or client ticket, with its messages "
        "(exit 1 if none)",
    )
    show.add_argument("ticket", metavar="TICKET", help="ticketCBSS, or the client's ticket")
    show.set_defaults(command=_with_store(load_settings, _show))

    explain = commands.add_parser(
        "explain",
        help="why the exchange with this ticket ended so: the stages that ran, the deciding "
        "rule, its facts (exit 1 if none)",
    )
    explain.add_argument("ticket", metavar="TICKET", help="ticketCBSS, or the client's ticket")
    explain.set_defaults(command=_with_store(load_settings, _explain))

    find = commands.add_parser(
        "find", help="list exchanges, newest first, one per line (exit 1 if none)"
    )
    find.add_argument("--client", metavar="ID", help="only this client")
    find.add_argument(
        "--since",
        metavar="YYYY-MM-DD",
        type=_moment,
        help="only exchanges received at or after this date (UTC) or ISO date-time",
    )
    find.add_argument("--code", metavar="CODE", help="only this outcome, e.g. MSG00004")
    find.add_argument(
        "--ssin",
        metavar="NISS",
        help="only exchanges about this person (the right of access): found by the keyed hash "
        "stored with each exchange, nothing is decrypted",
    )
    find.add_argument("--limit", metavar="N", type=_positive, default=100, help="default 100")
    find.set_defaults(command=_with_store(load_settings, _find))

    purge = commands.add_parser("purge", help="delete exchanges received more than DAYS days ago")
    purge.add_argument(
        "--older-than",
        metavar="DAYS",
        type=_positive,
        default=None,
        help="default: audit.retention_days of the configuration",
    )
    purge.set_defaults(command=_with_store(load_settings, _purge))

    new_key = commands.add_parser(
        "new-key",
        help="print a new random key (base64, 32 bytes) for audit.encryption_keys or "
        "audit.ssin_hash_key_file",
    )
    new_key.set_defaults(command=_new_key)


def _with_store(
    load_settings: SettingsLoader,
    run: Callable[[argparse.Namespace, Settings, AuditStore], int],
) -> Command:
    """Open the configured store around ``run``; a storage failure exits 2 with one line."""

    @functools.wraps(run)
    def command(arguments: argparse.Namespace) -> int:
        settings = load_settings(arguments)
        try:
            store = open_audit_store(settings.audit)
            try:
                return run(arguments, settings, store)
            finally:
                store.close()
        except AuditError as error:
            print(f"{PROG}: {error}", file=sys.stderr)
            return 2

    return command


def _by_ticket(store: AuditStore, ticket: str) -> list[ExchangeRecord]:
    """The exchanges of `ticket`, the BCSS's own first; none: says so on standard error."""
    # A client ticket is stored with any NISS in it as its tag (exchange.py): so is the query.
    exchanges = store.by_ticket(redact(ticket))
    # The BCSS's own ticket first: a caller may use another exchange's ticketCBSS as its
    # client ticket, and must not push its exchange in front of the one asked for.
    exchanges.sort(key=lambda e: e.ticket_cbss != ticket)
    if not exchanges:
        print(f"{PROG}: no exchange with ticket {_text(ticket)!r}", file=sys.stderr)
    return exchanges


def _show(arguments: argparse.Namespace, settings: Settings, store: AuditStore) -> int:
    protection = AuditProtection.from_settings(settings.audit)
    exchanges = _by_ticket(store, arguments.ticket)
    if not exchanges:
        return 1
    missing = 0
    for number, exchange in enumerate(exchanges, start=1):
        if number > 1:
            print()
        matched = "ticketCBSS" if exchange.ticket_cbss == arguments.ticket else "client ticket"
        print(f"=== exchange {number} of {len(exchanges)} (matched by {matched}) ===")
        print(f"ticketCBSS:    {_text(exchange.ticket_cbss)}")
        print(f"client ticket: {_text(exchange.client_ticket)}")
        print(f"client:        {_text(exchange.client_id)}")
        print(f"operation:     {_text(exchange.operation)}")
        print(f"legal context: {_text(exchange.legal_context)}")
        print(f"received:      {_timestamp(exchange.received)}")
        print(f"replied:       {_timestamp(exchange.replied)}")
        print(f"outcome:       {_text(exchange.outcome)}")
        print(f"duration:      {exchange.duration_ms:.1f} ms")
        try:
            opened = protection.open(exchange)
        except MissingAuditKey as error:
            missing += 1
            print(f"--- messages not shown: {error} ---")
            continue
        print("--- request ---")
        print(_pretty(opened.request_xml))
        print("--- response ---")
        print(_pretty(opened.response_xml))
    if missing:
        print(
            f"{PROG}: {missing} exchange(s) sealed with a key not configured here", file=sys.stderr
        )
        return 2
    return 0


def _explain(arguments: argparse.Namespace, settings: Settings, store: AuditStore) -> int:
    """Issue #18: each matching exchange's decision trail, opened with the audit keys."""
    protection = AuditProtection.from_settings(settings.audit)
    exchanges = _by_ticket(store, arguments.ticket)
    if not exchanges:
        return 1
    status = 0
    for number, exchange in enumerate(exchanges, start=1):
        if number > 1:
            print()
        print(f"ticketCBSS:    {_text(exchange.ticket_cbss)}")
        print(f"client:        {_text(exchange.client_id)}")
        print(f"operation:     {_text(exchange.operation)}")
        print(f"received:      {_timestamp(exchange.received)}")
        print(f"outcome:       {_text(exchange.outcome)}")
        try:
            decisions = protection.open_decisions(exchange)
            trail = None if decisions is None else DecisionTrail.from_json(decisions)
        except (MissingAuditKey, AuditError, UnreadableTrail) as error:
            # One exchange's row, not the listing: the others are still shown.
            print(f"--- decision trail not shown: {_text(str(error))} ---")
            status = 2
            continue
        if trail is None:
            print("--- no decision trail stored (audit.decision_trail = false, or older) ---")
            status = max(status, 1)
            continue
        for line in explanation(trail, escaped):
            print(line)
    return status


def _find(arguments: argparse.Namespace, settings: Settings, store: AuditStore) -> int:
    ssin_hash = None
    if arguments.ssin is not None:
        ssin = digits_of(arguments.ssin)  # "65.03.15-101.59" is 65031510159
        if not checksum_valid(ssin):
            print(f"{PROG}: --ssin: not a valid NISS (11 digits, checksum)", file=sys.stderr)
            return 2
        ssin_hash = AuditProtection.from_settings(settings.audit).ssin_hash(ssin)
        if ssin_hash is None:
            print(
                f"{PROG}: --ssin needs the NISS hash key the gateway stores with "
                "(audit.ssin_hash_key_file or SEG_AUDIT_SSIN_HASH_KEY)",
                file=sys.stderr,
            )
            return 2
    exchanges = store.find(
        client_id=arguments.client,
        since=arguments.since,
        outcome=arguments.code,
        ssin_hash=ssin_hash,
        limit=arguments.limit,
    )
    for exchange in exchanges:
        print(_line(exchange))
    if not exchanges:
        print(f"{PROG}: no matching exchange", file=sys.stderr)
        return 1
    return 0


def _purge(arguments: argparse.Namespace, settings: Settings, store: AuditStore) -> int:
    days: int = arguments.older_than or settings.audit.retention_days
    cutoff = datetime.now(UTC) - timedelta(days=days)
    deleted = store.purge(cutoff)
    print(f"purged {deleted} exchange(s) received before {_timestamp(cutoff)} ({days} days)")
    return 0


def _new_key(arguments: argparse.Namespace) -> int:
    del arguments
    print(new_key_text())
    return 0


def _line(exchange: ExchangeRecord) -> str:
    """One exchange, tab-separated: received, ticketCBSS, client ticket, client, operation,
    legal context, outcome, duration (ms)."""
    return "\t".join(
        (
            _timestamp(exchange.received),
            _text(exchange.ticket_cbss),
            _text(exchange.client_ticket),
            _text(exchange.client_id),
            _text(exchange.operation),
            _text(exchange.legal_context),
            _text(exchange.outcome),
            f"{exchange.duration_ms:.1f}",
        )
    )


def _pretty(message: bytes) -> str:
    """Indented XML; a message that is not well-formed is shown as received."""
    # Stored requests may be hostile: displaying one must not load what it points at.
    parser = hardened_parser(remove_blank_text=True)
    try:
        root = etree.fromstring(message, parser)
    except (etree.XMLSyntaxError, ExternalResourceRefused):
        # One escaped line: a line break of its own could forge "--- response ---".
        return escaped(message.decode("utf-8", errors="replace"))
    for node in root.iter():
        # Texts and attribute values escaped before indenting: the only line breaks shown
        # are the pretty-printer's.
        node.text = None if node.text is None else escaped(node.text)
        node.tail = None if node.tail is None else escaped(node.tail)
        for name, value in node.attrib.items():
            node.attrib[name] = escaped(value)
    text = etree.tostring(root, pretty_print=True, encoding="unicode")
    # Names are all that is left: XML allows a few format characters in them (ZWJ…).
    return "\n".join(escaped(line, backslash=False) for line in text.rstrip("\n").split("\n"))


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: str | None) -> str:
    return "-" if value is None else escaped(value)


def escaped(text: str, *, backslash: bool = True) -> str:
    """`text` safe to print on a terminal: control characters (C0, DEL, C1: a stored `&#10;`
    or `&#9;` would forge a line or a column, ESC and CSI U+009B would drive the terminal)
    and format characters (bidi overrides such as U+202E would reorder what is shown) are
    written as escapes, e.g. ``\\u202e``; a backslash is doubled so escapes stay unambiguous."""
    if text.isprintable() and not (backslash and "\\" in text):
        return text
    return "".join(_escape(character, backslash) for character in text)


def _escape(character: str, backslash: bool) -> str:
    if character == "\\" and backslash:
        return "\\\\"
    if character.isprintable() or character == " ":
        return character
    code = ord(character)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def _moment(text: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO date-time (UTC when it has no offset)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected YYYY-MM-DD or an ISO date-time"
        ) from error
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive whole number")
    return value
