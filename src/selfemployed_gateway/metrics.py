"""Prometheus metrics of the gateway, served on the admin listener at `/metrics`.

One registry per gateway (not the library's global one), so that tests and several gateways
in one process never mix their numbers.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from selfemployed_gateway.records import ExchangeTrace

# Request durations: the service level is 90% < 1 s, 95% < 2 s.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


class GatewayMetrics:
    def __init__(self, phase: str, registry: CollectorRegistry | None = None) -> None:
        self.phase = phase
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "seg_requests_total",
            "Exchanges answered, by operation and outcome (status or fault code).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "seg_request_duration_seconds",
            "Time from request received to response ready, by operation.",
            ["operation"],
            buckets=_REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.supplier_seconds = Histogram(
            "seg_supplier_call_duration_seconds",
            "Duration of calls to INASTI, by phase, operation and outcome.",
            ["phase", "operation", "outcome"],
            buckets=_REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "seg_requests_in_flight",
            "Requests received and not answered yet.",
            registry=self.registry,
        )
        self.tls_handshake_failures = Counter(
            "seg_tls_handshake_failures_total",
            "TLS connections refused or failed (no, foreign or invalid client certificate, "
            "protocol version…).",
            registry=self.registry,
        )
        self.connections_refused = Counter(
            "seg_connections_refused_total",
            "SOAP connections closed at once: over the limit in all or per peer address.",
            registry=self.registry,
        )
        self.audit_write_failures = Counter(
            "seg_audit_write_failures_total",
            "Exchanges that could not be stored in the audit trail (answered MSG00003).",
            registry=self.registry,
        )
        # How many exchanges each audit commit carried (group commit, audit/writer.py).
        self.audit_batch = Histogram(
            "seg_audit_commit_exchanges",
            "Exchanges stored by one audit trail commit (group commit).",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.audit_purged = Counter(
            "seg_audit_purged",
            "Exchanges deleted from the audit trail past audit.retention_days.",
            registry=self.registry,
        )
        self.audit_purge_failures = Counter(
            "seg_audit_purge_failures",
            "Runs of the retention that failed (the next run tries again).",
            registry=self.registry,
        )
        self.admission_refusals = Counter(
            "seg_admission_refusals_total",
            "Exchanges refused before the pipeline for a share exceeded (R-28), by client and "
            "limit (client_in_flight, client_rate, gateway_in_flight).",
            ["client", "limit"],
            registry=self.registry,
        )
        self.client_in_flight = Gauge(
            "seg_client_requests_in_flight",
            "Exchanges in flight, by client (R-28).",
            ["client"],
            registry=self.registry,
        )
        self.circuit_state = Gauge(
            "seg_supplier_circuit_state",
            "The circuit in front of INASTI: 1 for the state it is in (closed, open, half_open).",
            ["state"],
            registry=self.registry,
        )
        self.circuit_transitions = Counter(
            "seg_supplier_circuit_transitions_total",
            "Changes of the circuit in front of INASTI, by the state entered.",
            ["state"],
            registry=self.registry,
        )
        self.circuit_changed("closed", counted=False)
        self.reloads = Counter(
            "seg_configuration_reloads_total",
            "Configuration reloads (SIGHUP), by result.",
            ["result"],
            registry=self.registry,
        )

    def circuit_changed(self, state: str, *, counted: bool = True) -> None:
        for known in ("closed", "open", "half_open"):
            self.circuit_state.labels(known).set(1 if known == state else 0)
        if counted:
            self.circuit_transitions.labels(state).inc()

    def exchange(self, trace: ExchangeTrace, seconds: float) -> None:
        """Count one answered exchange (and its supplier call, if any)."""
        operation = trace.operation.value if trace.operation else "unknown"
        self.requests.labels(operation, trace.outcome or "unknown").inc()
        self.request_seconds.labels(operation).observe(seconds)
        if trace.supplier_seconds is not None:
            self.supplier_seconds.labels(
                self.phase, operation, trace.supplier_outcome or "unknown"
            ).observe(trace.supplier_seconds)
