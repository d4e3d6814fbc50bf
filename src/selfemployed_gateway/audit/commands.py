"""``selfemployed-gateway audit show|find|purge``: the service desk's view of the trail (R-73).

``audit show TICKET`` prints every exchange whose BCSS ticket or client ticket is TICKET,
with both messages pretty-printed (this is the one place they are shown: they hold personal
data, so the command is for the service desk on the gateway's host, and nothing is logged);
``audit find`` lists exchanges one per line (tab-separated); ``audit purge`` deletes the
exchanges older than the retention period. Storage failures print one line on stderr and
exit 2, like the other commands' errors.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lxml import etree

from selfemployed_gateway.audit.backends import open_audit_store
from selfemployed_gateway.audit.trail import AuditStore, ExchangeRecord
from selfemployed_gateway.errors import AuditError
from selfemployed_gateway.settings import Settings
from selfemployed_gateway.xmlsafe import ExternalResourceRefused, hardened_parser

PROG = "selfemployed-gateway"

Command = Callable[[argparse.Namespace], int]
SettingsLoader = Callable[[argparse.Namespace], Settings]


def add_audit_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    load_settings: SettingsLoader,
) -> None:
    """Add ``audit show|find|purge`` to a command line (R-73)."""
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


def _show(arguments: argparse.Namespace, settings: Settings, store: AuditStore) -> int:
    del settings
    exchanges = store.by_ticket(arguments.ticket)
    if not exchanges:
        print(f"{PROG}: no exchange with ticket {arguments.ticket!r}", file=sys.stderr)
        return 1
    for number, exchange in enumerate(exchanges, start=1):
        if number > 1:
            print()
        print(f"=== exchange {number} of {len(exchanges)} ===")
        print(f"ticketCBSS:    {exchange.ticket_cbss}")
        print(f"client ticket: {_text(exchange.client_ticket)}")
        print(f"client:        {_text(exchange.client_id)}")
        print(f"operation:     {_text(exchange.operation)}")
        print(f"legal context: {_text(exchange.legal_context)}")
        print(f"received:      {_timestamp(exchange.received)}")
        print(f"replied:       {_timestamp(exchange.replied)}")
        print(f"outcome:       {exchange.outcome}")
        print(f"duration:      {exchange.duration_ms:.1f} ms")
        print("--- request ---")
        print(_pretty(exchange.request_xml))
        print("--- response ---")
        print(_pretty(exchange.response_xml))
    return 0


def _find(arguments: argparse.Namespace, settings: Settings, store: AuditStore) -> int:
    del settings
    exchanges = store.find(
        client_id=arguments.client,
        since=arguments.since,
        outcome=arguments.code,
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


def _line(exchange: ExchangeRecord) -> str:
    return "\t".join(
        (
            _timestamp(exchange.received),
            exchange.ticket_cbss,
            _text(exchange.client_ticket),
            _text(exchange.client_id),
            _text(exchange.operation),
            exchange.outcome,
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
        return message.decode("utf-8", errors="replace")
    text: str = etree.tostring(root, pretty_print=True, encoding="unicode")
    return text.rstrip("\n")


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: str | None) -> str:
    return "-" if value is None else value


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
