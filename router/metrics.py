"""Every `e911_*` Prometheus metric, declared once, with explicit buckets.

Label values come from Enums (or, for `trunk` and `worker`, from the configuration: a trunk
URI, a worker's SIP port); a Call-ID, a number or an address is never a label.

Two kinds of process write these metrics (docs/observability.md, "How the numbers get out"):

- **children** of the supervisor (SIP workers, the API, the notification sender) write theirs to
  per-process files in the directory the supervisor names in `PROMETHEUS_MULTIPROC_DIR`
  (prometheus_client's multiprocess mode); the endpoint adds them up over every worker of the
  host, dead ones included for counters and histograms, live ones only for gauges;
- the **supervisor** itself owns `HOST_METRICS` (restarts, build, trunk probes, the outbox
  age read from the store): it serves them from memory, so they stay true while a child is down.
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from router.call.outcome import CallOutcome, Result
from router.call.plan import Purpose

REGISTRY = CollectorRegistry(auto_describe=True)


class CallOutcomeLabel(StrEnum):
    """`outcome` of `e911_calls_total`: where the call went, as the on-call engineer asks it."""

    ROUTED_PSAP = "routed_psap"
    """Bridged to a PSAP (E911) trunk that answered."""
    ROUTED_SORTING_CENTER = "routed_sorting_center"
    """Bridged to the sorting center (no location, or every PSAP trunk failed)."""
    ROUTED_TEST = "routed_test"
    """A 933 test call bridged to the test trunk."""
    ROUTED_OUTBOUND = "routed_outbound"
    """A normal call bridged to the outbound trunk (E911_NORMAL_CALL_MODE=bridge)."""
    REDIRECTED = "redirected"
    """302: a normal call to the outbound route, or a 911 with no bridge slot left."""
    ANNOUNCED_BLOCKED = "announced_blocked"
    """"Address not registered" played, then 403 (or BYE)."""
    REJECTED_UNTRUSTED = "rejected_untrusted"
    """403: the INVITE came from outside E911_TRUSTED_PEERS."""
    REJECTED = "rejected"
    """400/404/416: a dial string or request we cannot route."""
    SHED_OVERLOAD = "shed_overload"
    """503 + Retry-After: no slot for a non-emergency call."""
    CANCELLED = "cancelled"
    """The caller hung up (CANCEL) before any trunk answered."""
    FAILED = "failed"
    """Every trunk failed; a 911 still got a 302 to the emergency route."""


class TrunkStatusClass(StrEnum):
    """`status_class` of `e911_trunk_attempts_total`: how one outgoing INVITE ended."""

    S2XX = "2xx"
    S3XX = "3xx"
    S4XX = "4xx"
    S5XX = "5xx"
    S6XX = "6xx"
    TIMEOUT = "timeout"
    """No 18x or final response within E911_TRUNK_TIMEOUT_SECONDS: we gave up on it."""
    ERROR = "error"
    """The INVITE could not be sent at all (a local pjsua2 error)."""
    ABANDONED = "abandoned"
    """The caller left before the trunk gave a final answer."""


class SlotState(StrEnum):
    IN_USE = "in_use"
    """pjsua2 calls alive in the worker (caller legs and trunk legs)."""
    FREE = "free"


class ValidationResult(StrEnum):
    """`result` of `e911_msag_validations_total`."""

    VALID = "valid"
    INVALID = "invalid"
    """Per-field errors (with suggestions) went back to the user."""
    ERROR = "error"
    """The validator could not answer (no MSAG loaded, store down)."""


class NotificationState(StrEnum):
    """`state` of `e911_notifications_total` (the same words as `router.notify.model`)."""

    RECORDED = "recorded"
    SPOOLED = "spooled"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


SETUP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0, 16.0,
                 32.0)
"""Seconds. 2.0 is a bucket edge: the "emergency setup p99 over 2 s" alert reads it exactly."""
LOOKUP_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05)
"""Seconds. The lookup is an in-memory read on the SIP thread: tens of microseconds."""

# -- written by the children (aggregated from the multiprocess directory) --------------------

CALLS = Counter("e911_calls", "Calls handled, by dial-plan class and outcome.",
                ["call_class", "outcome"], registry=REGISTRY)
CALL_SETUP_SECONDS = Histogram("e911_call_setup_seconds",
                               "INVITE received to first final answer sent upstream.",
                               ["call_class"], buckets=SETUP_BUCKETS, registry=REGISTRY)
TRUNK_ATTEMPTS = Counter("e911_trunk_attempts", "Outgoing INVITE attempts by trunk and result.",
                         ["trunk", "status_class"], registry=REGISTRY)
LOCATION_LOOKUP_SECONDS = Histogram("e911_location_lookup_seconds",
                                    "Time to find a caller's effective location.",
                                    buckets=LOOKUP_BUCKETS, registry=REGISTRY)
MSAG_VALIDATIONS = Counter("e911_msag_validations", "Address validations by result.",
                           ["result"], registry=REGISTRY)
NOTIFICATIONS = Counter("e911_notifications", "Emergency-contact notifications by state.",
                        ["state"], registry=REGISTRY)
CALL_SLOTS = Gauge("e911_call_slots", "pjsua2 call slots by worker (SIP port) and state.",
                   ["worker", "state"], registry=REGISTRY, multiprocess_mode="livesum")
CALL_RECORDS = Counter("e911_call_records", "Call records by how they were stored.",
                       ["result"], registry=REGISTRY)
"""result: written | spooled | imported | failed (docs/observability.md)."""
LOCATION_VIEW_VERSION = Gauge(
    "e911_location_view_version",
    "The store's change sequence (change_seq) the worker's in-memory location view has applied;"
    " 0 until its first load.", registry=REGISTRY, multiprocess_mode="liveall")
"""Set by `LocationView` at every snapshot swap. `liveall` keeps one series per live process
(labelled `pid` in the files); the host endpoint turns `pid` into `worker` (the child's name,
"worker-1") and drops processes that are not workers. A caller that wrote the store at
change_seq N knows every worker locates with that write once each series reads N or more
(docs/store.md, "How the view stays fresh")."""

# -- owned by the supervisor's process ------------------------------------------------------

TRUNK_UP = Gauge("e911_trunk_up", "1 when the trunk answered the last OPTIONS probe, else 0.",
                 ["trunk", "purpose"], registry=REGISTRY, multiprocess_mode="livemax")
NOTIFICATION_OLDEST_PENDING_SECONDS = Gauge(
    "e911_notification_oldest_pending_seconds",
    "Age of the oldest notification not yet delivered (0 when none).", registry=REGISTRY,
    multiprocess_mode="livemax")
STORE_UP = Gauge("e911_store_up", "1 when the store answered the endpoint's last query.",
                 registry=REGISTRY, multiprocess_mode="livemax")
WORKER_RESTARTS = Counter("e911_worker_restarts", "Workers restarted by the supervisor.",
                          registry=REGISTRY)
BUILD_INFO = Info("e911_build", "Version of the running router.", registry=REGISTRY)

HOST_METRICS: frozenset[str] = frozenset({
    "e911_trunk_up", "e911_notification_oldest_pending_seconds", "e911_store_up",
    "e911_worker_restarts", "e911_build",
})
"""Metric names the supervisor serves from its own memory; the endpoint ignores these names
in the children's files (a child that sets one by mistake cannot double a series)."""

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client reads this variable when it is imported: the supervisor sets it in each
child's environment. It is not an E911_* setting; operators never set it."""


def status_class(status: int, *, timed_out: bool = False, not_sent: bool = False
                 ) -> TrunkStatusClass:
    """The `status_class` label of one trunk attempt's final status (0: none came)."""
    if not_sent:
        return TrunkStatusClass.ERROR
    if timed_out:
        return TrunkStatusClass.TIMEOUT
    if status == 0:
        return TrunkStatusClass.ABANDONED
    if 200 <= status < 700:
        return TrunkStatusClass(f"{status // 100}xx")
    return TrunkStatusClass.ERROR


_ROUTED: dict[str, CallOutcomeLabel] = {
    Purpose.PSAP: CallOutcomeLabel.ROUTED_PSAP,
    Purpose.SORTING_CENTER: CallOutcomeLabel.ROUTED_SORTING_CENTER,
    Purpose.TEST: CallOutcomeLabel.ROUTED_TEST,
    Purpose.OUTBOUND: CallOutcomeLabel.ROUTED_OUTBOUND,
}
_BY_RESULT = {
    Result.REDIRECTED: CallOutcomeLabel.REDIRECTED,
    Result.ANNOUNCED: CallOutcomeLabel.ANNOUNCED_BLOCKED,
    Result.SHED: CallOutcomeLabel.SHED_OVERLOAD,
    Result.FAILED: CallOutcomeLabel.FAILED,
    Result.CANCELLED: CallOutcomeLabel.CANCELLED,
}
UNTRUSTED_STATUS = 403
"""The worker answers 403 to a peer outside E911_TRUSTED_PEERS; a rejected call with any
other status was a request or dial string it could not route (400, 404, 416, 500)."""


def outcome_label(outcome: CallOutcome) -> CallOutcomeLabel:
    """The `outcome` label of one finished call."""
    if outcome.result is Result.BRIDGED:
        return _ROUTED.get(outcome.trunk_purpose, CallOutcomeLabel.ROUTED_OUTBOUND)
    if outcome.result is Result.REJECTED:
        return (CallOutcomeLabel.REJECTED_UNTRUSTED if outcome.status == UNTRUSTED_STATUS
                else CallOutcomeLabel.REJECTED)
    return _BY_RESULT[outcome.result]


def metric_names() -> frozenset[str]:
    """Every sample name the registry can produce (`e911_calls_total`, `..._bucket`, ...)."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        for suffix in ("_total", "_created", "_bucket", "_sum", "_count", "_info"):
            names.add(family.name + suffix)
    return frozenset(names)
