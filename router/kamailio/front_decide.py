"""The front's own decisions (issue 19): what Kamailio does with an ordinary call, decided by
the workers' own code, run inside Kamailio (app_python3, router/kamailio/kemi.py).

One place for the rules: the INVITE as Kamailio received it goes through the same
`parse_invite` and `CallRouter` (dial plan -> location view -> `plan_call`) a worker runs, with
the same settings and the same store. The front then acts on two answers only:

- a located caller's ordinary call (`Action.REDIRECT`): relayed to the plan's `redirect_uri`,
  the Contact the worker's 302 would have carried;
- a number we cannot dial (`Action.REJECT`, 404): the worker's status, reason and `Reason`
  header.

Everything else (911/933, an unlocated caller's announcement, a bridged ordinary call
(E911_NORMAL_CALL_MODE=bridge), an INVITE the parser refuses, a view that cannot be brought up
to date, any error) goes to a worker exactly as before: never worse than without this.

Freshness (read-your-writes): before each decision the store's `change_seq` is read (one
autocommit query on a connection of this process's own, `Store.change_seq_reader`) and, when
it differs from the view's, the change is loaded inline (`LocationView.refresh`):
a call placed after a binding change was committed never uses the old decision. The view's
poller thread is not started here: Kamailio holds the interpreter between calls.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from dialplan import CallClass
from router.call.decide import CallRouter, ParseFailure
from router.call.inbound import IngressError, IPNetwork, parse_invite
from router.call.plan import Action
from router.location.bindings import BindPrefixes
from router.location.view import LocationView
from router.settings import Settings


class DecisionKind(StrEnum):
    RELAY = "relay"
    """Send the call to `target` (the outbound route), as the worker's 302 would have."""
    REPLY = "reply"
    """Answer `status` `reason` with a `Reason: reason_header` (the worker's 404)."""
    WORKER = "worker"
    """Not ours to decide: the worker path, as without front decisions."""


@dataclass(frozen=True, slots=True)
class FrontDecision:
    kind: DecisionKind
    target: str = ""
    status: int = 0
    reason: str = ""
    reason_header: str = ""
    why: str = ""
    """WORKER: why (emergency, unlocated, bridge, parse, device, no_user, store, ...)."""
    view_seq: int | None = None
    """WORKER, once the view was brought up to date: the change_seq this decision saw. The
    worker gets it (X-E911-View-Seq) and catches up to it before deciding (read-your-writes
    on the worker path too)."""


def to_worker(why: str, view_seq: int | None = None) -> FrontDecision:
    return FrontDecision(DecisionKind.WORKER, why=why, view_seq=view_seq)


class FreshView(Protocol):
    """A view that can be brought up to the store's last change (`LocationView.refresh`)."""

    def refresh(self) -> bool: ...

    @property
    def seq(self) -> int | None: ...


class SeqReader(Protocol):
    """The store's change_seq, cheaply (`router.store.events.ChangeSeqReader`)."""

    def __call__(self) -> int: ...

    def close(self) -> None: ...


STORE_RETRY_SECONDS = 1.0
"""After the store failed, how long every call goes to a worker before it is asked again."""

FRONT_CONNECT_ARGS = {"connect_timeout": "1", "tcp_user_timeout": "1000"}
"""PostgreSQL from inside Kamailio: a store that does not answer costs a receiver at most
about a second (then STORE_RETRY_SECONDS of worker path), not the engine's 5 s connect timeout
or a TCP timeout of minutes."""


class StoreDown(Exception):
    """The store failed less than STORE_RETRY_SECONDS ago."""


class FrontDecider:
    """One per Kamailio process, built after the fork (`open_front_decider`)."""

    def __init__(self, router: CallRouter, view: FreshView, *,
                 pbx_peers: tuple[IPNetwork, ...], device_ip_header: str,
                 seq_reader: Callable[[], SeqReader] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._router = router
        self._view = view
        self._pbx_peers = pbx_peers
        self._device_ip_header = device_ip_header
        self._open_reader = seq_reader
        """Opens the cheap change_seq probe; None: `view.refresh()` compares on every call."""
        self._reader: SeqReader | None = None
        self._down_until = 0.0
        self._clock = clock

    def _fresh(self) -> None:
        """Bring the view to the store's last change; raises what the store raises. After a
        failure the store is not asked again for STORE_RETRY_SECONDS (every call goes to a
        worker meanwhile): a store that is down must not hold a Kamailio process per call."""
        if self._clock() < self._down_until:
            raise StoreDown
        if self._open_reader is None:
            self._view.refresh()
            return
        try:
            if self._reader is None:
                self._reader = self._open_reader()
            seq = self._reader()
        except Exception:
            if self._reader is not None:
                self._reader.close()
            self._reader = None  # a new connection next time
            self._down_until = self._clock() + STORE_RETRY_SECONDS
            raise
        if seq != self._view.seq:
            self._view.refresh()

    def decide(self, message: str, source: str, device: str) -> FrontDecision:
        """`message`: the INVITE as received ($mb); `source`: "ip:port" ($si, $sp);
        `device`: the device IP the front would send a worker in the device-IP header."""
        try:
            inbound = parse_invite(message, source, pbx_peers=self._pbx_peers,
                                   device_ip_header=self._device_ip_header)
        except IngressError:
            return to_worker("parse")
        if not inbound.from_user:
            # The worker would locate by the P-Asserted-Identity, which the front may remove
            # (route CALLER_CLAIMS): left to it.
            return to_worker("no_user")
        try:
            front_device = ipaddress.ip_address(device)
        except ValueError:
            return to_worker("device")
        if inbound.device_ip != front_device:
            return to_worker("device")  # the worker would be told another device: its call
        try:
            self._fresh()  # read-your-writes: the store's last change, or no decision
        except Exception:
            return to_worker("store")
        seq = self._view.seq
        routed = self._router.route(inbound)
        if isinstance(routed, ParseFailure):
            return to_worker("parse", seq)
        plan = routed.plan
        if plan.call_class is CallClass.NORMAL and plan.action is Action.REDIRECT:
            return FrontDecision(DecisionKind.RELAY, target=plan.redirect_uri)
        if plan.call_class is CallClass.INVALID and plan.action is Action.REJECT:
            _, value = plan.reason_header
            return FrontDecision(DecisionKind.REPLY, status=plan.status, reason=plan.reason,
                                 reason_header=value)
        if plan.is_emergency:
            return to_worker("emergency", seq)
        if plan.action is Action.BRIDGE:
            return to_worker("bridge", seq)
        return to_worker("unlocated", seq)


def open_front_decider(settings: Settings) -> FrontDecider:
    """The settings' store (never migrated here: the supervisor's commands do that), a view
    loaded from it now, and a `CallRouter` built exactly as `e911-router worker` builds it.
    Call it in each Kamailio process after the fork: a store connection or a thread must never
    cross a fork."""
    from sqlalchemy.engine import make_url

    from router.store.store import open_store  # SQLAlchemy and the drivers: only here

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(str(url.database)).is_file():
        # Never create an empty store here: the supervisor's commands create and migrate it.
        raise FileNotFoundError(f"no SQLite store at {url.database}")
    if url.get_backend_name() == "postgresql":
        url = url.update_query_dict({k: v for k, v in FRONT_CONNECT_ARGS.items()
                                     if k not in url.query})
    store = open_store(url.render_as_string(hide_password=False), migrate=False,
                       bind_prefixes=BindPrefixes(settings.bind_prefix_v4,
                                                  settings.bind_prefix_v6))
    view = LocationView(store)
    view.refresh()
    router = CallRouter(settings.dialplan_config(), view, settings.routing_policy())
    return FrontDecider(router, view, pbx_peers=settings.pbx_peers,
                        device_ip_header=settings.device_ip_header,
                        seq_reader=store.change_seq_reader)
