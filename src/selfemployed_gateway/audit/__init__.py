"""The audit trail (R-73): every exchange kept, found again by either ticket.

The service desk identifies an exchange by the BCSS ticket (``ticketCBSS``) or, failing
that, by the client's own ticket, plus date and time. The gateway therefore records each
exchange — both tickets, the client, the operation, the outcome and the request and response
messages — *before* it sends the response: `AuditStore.record` returns only once the exchange
is durable, so that nothing answered is ever missing from the trail.

The messages hold personal data (NISS, careers): they are stored, and shown by
``selfemployed-gateway audit show``, but never logged, and never part of an error message or
of a record's ``repr``.

Modules: `trail` (the exchange record and the store's contract), `sqlite` (one file, the
default) and `postgresql` (the two backends), `backends` (the one chosen by
`AuditSettings.backend`), `writer` (the gateway's writer threads: group commit),
`commands` (`audit show|find|purge`).
"""
