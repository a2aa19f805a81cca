"""One worker: one process, one pjsua2 endpoint, its own port, 4 call slots.

The SIP thread is the thread that calls `run()`. It alone touches pjsua2:

    loop: libHandleEvents(10 ms) -> deferred controller work -> due timers -> jobs from
          other threads (`submit`)

Per INVITE (`onSelectAccount`, before any RTP socket exists):

    parse -> trusted peer? -> classify -> locate -> plan -> admission -> account (loop | media)

then in `onIncomingCall` the chosen controller takes the call: `Response` (302/403/404/503 at
once), `Bridge` (B2BUA to the trunks) or `Announcement`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import heapq
import itertools
import os
import queue
import re
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pjsua2 as pj
import structlog
from structlog.typing import FilteringBoundLogger

from router.call.additional_data import ProviderIdentity
from router.call.admission import RETRY_AFTER_SECONDS, MediaBurstGuard, SlotPolicy
from router.call.decide import CallRouter, ParseFailure, Routed, dialled_form
from router.call.emergency_invite import RequestUriMode, trunk_route
from router.call.execution import Execution, ExecutionKind
from router.call.front_announce import front_announce_headers
from router.call.front_redirect import front_redirect
from router.call.inbound import (
    InboundCall,
    IngressError,
    IPNetwork,
    head_and_body,
    header,
    is_trusted,
    parse_invite,
    parse_source,
    split_message,
)
from router.call.modes import (
    AnnounceMode,
    AnnounceOverflow,
    AnnouncePath,
    EmergencyPath,
    EmergencyRequestUri,
)
from router.call.outcome import CallOutcome, Result
from router.call.outgoing import OutgoingRequest
from router.call.plan import Action, CallPlan
from router.call.size import SEND_BUDGET_BYTES, invite_size
from router.call.trunk_request import build_request
from router.callref import mask_number, new_call_ref
from router.location.model import Located
from router.settings import Settings
from router.sip.announce import Announcement, load_prompts
from router.sip.bridge import Bridge
from router.sip.control import Controller
from router.sip.endpoint import (
    AccountKind,
    EndpointSetup,
    RouterAccount,
    Started,
    start_endpoint,
    stop_endpoint,
)
from router.sip.legs import Leg, LegState, MidCallOffer, OfferResult
from router.sip.response import Response

MEDIA_LINGER_SECONDS = 0.6
"""A call on the real-media account keeps its PJSUA slot a while after DISCONNECTED (its RTP
sockets close 500 ms late). Measured: redirects alone ran at 1,000/s without a failure, but
next to 30 media calls a second that callers cancelled at once, PJSUA answered some with its
stateless 486 and a bridge's makeCall met PJ_ETOOMANY for 200 ms while our own count of live
calls left a slot free. So such a call counts as held for this long after it ends."""

PENDING_TTL_SECONDS = 32.0
"""A decision not claimed by `onIncomingCall` within RFC 3261 Timer B is dropped."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    host: str
    port: int
    tcp: bool = True
    trusted_peers: tuple[IPNetwork, ...] = ()
    pbx_peers: tuple[IPNetwork, ...] = ()
    device_ip_header: str = ""
    device_ip_required: bool = False
    """Behind the front: a PBX peer's INVITE without the header has no known device."""
    trunk_timeout_seconds: float = 4.0
    prompts_dir: Path = Path("config/prompts")
    languages: tuple[str, ...] = ("en", "es", "fr")
    default_language: str = "en"
    media_burst_limit: int = 20
    media_burst_window_seconds: float = 0.6
    log_level: int = 0
    """pjsua2's own log level (0 = silent)."""
    stats_interval_seconds: float = 5.0
    """How often `e911.worker.stats` is logged (slots in use, RSS): the soak reads it."""
    announce_overflow_reject: bool = False
    """No slot to play "address not registered": False sheds the call (503 + Retry-After),
    True answers the final 403 + Reason at once (E911_ANNOUNCE_OVERFLOW=reject)."""
    emergency_path: EmergencyPath = EmergencyPath.AUTO
    """bridge: B2BUA every emergency call we have slots for; front: always hand it to
    Kamailio in a 302 (router.call.front_redirect); auto: bridge while a bridge is free, else
    front."""
    announce_front: bool = False
    """E911_ANNOUNCE_PATH=front behind a front (E911_DEVICE_IP_REQUIRED, set by `run` for workers
    behind Kamailio): the 302 + X-E911-Announce instead of playing the prompt here (issue 16)."""
    request_uri_mode: RequestUriMode = RequestUriMode.TRUNK
    """E911_EMERGENCY_REQUEST_URI: SOS sends a 911 to the PSAP trunks as urn:service:sos."""
    provider: ProviderIdentity | None = None
    """The RFC 7852 ProviderInfo of E911_PROVIDER_* (SOS mode only)."""
    routes: tuple[str, ...] = ()
    """SOS mode: the PSAP trunks as loose routes; each gets an account with that route set
    (router.sip.endpoint: PJSUA sends a urn: Request-URI only from such an account)."""

    @classmethod
    def from_settings(cls, settings: Settings, *, port: int | None = None) -> WorkerConfig:
        return cls(
            host=settings.sip_listen.host,
            port=settings.sip_listen.port if port is None else port,
            tcp="tcp" in settings.sip_transports,
            trusted_peers=settings.trusted_peers,
            pbx_peers=settings.pbx_peers,
            device_ip_header=settings.device_ip_header,
            device_ip_required=settings.device_ip_required,
            trunk_timeout_seconds=settings.trunk_timeout_seconds,
            prompts_dir=settings.prompts_dir,
            default_language=settings.default_language.value,
            announce_overflow_reject=settings.announce_overflow is AnnounceOverflow.REJECT,
            emergency_path=settings.emergency_path,
            # Only behind the front (`run` sets E911_DEVICE_IP_REQUIRED for those workers): a
            # worker a PBX reaches directly must never answer the 302 meant for Kamailio.
            announce_front=settings.announce_path is AnnouncePath.FRONT
            and settings.announce_mode is AnnounceMode.EARLY and settings.device_ip_required,
            **_ng911(settings),
        )


def _ng911(settings: Settings) -> dict[str, Any]:
    """WorkerConfig's NG911 fields from E911_EMERGENCY_REQUEST_URI and E911_PROVIDER_*."""
    if settings.emergency_request_uri is not EmergencyRequestUri.SOS:
        return {}
    provider = ProviderIdentity(name=settings.provider_name,
                                contact_uri=settings.provider_contact,
                                provider_id=settings.provider_id)
    return {"request_uri_mode": RequestUriMode.SOS, "provider": provider,
            "routes": tuple(dict.fromkeys(trunk_route(t) for t in settings.trunk_psap))}


@dataclass(slots=True)
class _Pending:
    execution: Execution
    created: float
    """When `onSelectAccount` received the INVITE (worker clock): setup time starts here."""
    call_ref: str
    log: FilteringBoundLogger
    """The call's logger, bound to call_ref, call_id, call_class, account (and port)."""


@dataclass(slots=True)
class Stats:
    """Counters the tests and the benchmark read through `submit`."""

    invites: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    legs_peak: int = 0


class Worker:
    """Owns the endpoint, every leg and controller, the timers and the cross-thread queue."""

    def __init__(
        self,
        config: WorkerConfig,
        router: CallRouter,
        *,
        on_outcome: Callable[[CallOutcome], None] | None = None,
        on_route_decided: Callable[[Routed], None] | None = None,
        build: Callable[[Routed, int], OutgoingRequest] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._router = router
        self._on_outcome = on_outcome
        self._on_route_decided = on_route_decided
        """Told every routing decision on this thread (Kari's Law notices); must not block."""
        self._build = build or functools.partial(
            build_request, host=config.host, request_uri_mode=config.request_uri_mode,
            provider=config.provider)
        self._clock = clock
        self._log: FilteringBoundLogger = structlog.get_logger("router.sip.worker").bind(
            port=config.port)
        self._slots = SlotPolicy()
        self._media_guard = MediaBurstGuard(config.media_burst_limit,
                                            config.media_burst_window_seconds)
        self._prompts = load_prompts(config.prompts_dir, config.languages)
        self._refs = itertools.count(1)
        self._timer_seq = itertools.count()
        self.legs: dict[int, Leg] = {}
        self._controllers: dict[int, Controller] = {}
        self._call_logs: dict[int, FilteringBoundLogger] = {}
        """Each live controller's bound logger (the one it was given), by controller ref."""
        self._held_by: dict[int, int] = {}
        """Slots reserved by calls that stay (bridges 2, announcements 1), by controller."""
        self._live: dict[int, int] = {}
        self._lingering: deque[float] = deque()
        """When recently ended media-account calls stop holding their PJSUA slot."""
        """Live pjsua2 calls by controller: an abandoned trunk attempt (a silent trunk, CANCEL
        pending until Timer B, 32 s) still holds a PJSUA slot after the bridge moved on."""
        self._pending: dict[str, _Pending] = {}
        self._timers: list[tuple[float, int, int, str]] = []
        self._deferred: deque[tuple[int, str]] = deque()
        self._starts: deque[int] = deque()
        """Controllers whose call arrived in onIncomingCall, started on the next loop turn."""
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = (
            queue.SimpleQueue())
        self.stats = Stats()
        self._started: Started | None = None
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        setup = EndpointSetup(self.config.host, self.config.port, tcp=self.config.tcp,
                              log_level=self.config.log_level, routes=self.config.routes)
        self._started = start_endpoint(setup, self._select_account, self._incoming)
        self._log.info("e911.worker.ready", host=self.config.host,
                       prompts=sorted(self._prompts))

    def run(self, should_stop: Callable[[], bool]) -> None:
        """The SIP thread's loop; returns when `should_stop()` says so (SIGTERM)."""
        started = self._require_started()
        next_stats = self._clock() + self.config.stats_interval_seconds
        while not should_stop():
            started.endpoint.libHandleEvents(10)
            self._run_deferred()
            self._run_timers()
            self._run_jobs()
            if self._clock() >= next_stats:
                trim_ms = trim_heap()
                next_stats = self._clock() + self.config.stats_interval_seconds
                self._log.info("e911.worker.stats", trim_ms=trim_ms, **self.snapshot())

    def stop(self) -> None:
        """Drain: hang up every call, destroy the library (about 1.2 s)."""
        if self._started is None or self._stopping:
            return
        self._stopping = True
        self._log.info("e911.worker.stopping", **self.snapshot())
        stop_endpoint(self._started, lambda: len(self.legs), self._release_all)
        self._started = None

    def _release_all(self) -> None:
        self._controllers.clear()
        self._call_logs.clear()
        self.legs.clear()
        self._held_by.clear()
        self._live.clear()
        self._lingering.clear()
        self._starts.clear()

    def submit(self, job: Callable[[], Any]) -> Future[Any]:
        """Run `job` on the SIP thread (the only safe way for another thread to reach PJSUA)."""
        future: Future[Any] = Future()
        self._jobs.put((job, future))
        return future

    def snapshot(self) -> dict[str, Any]:
        """Live state (call on the SIP thread, e.g. through `submit`)."""
        return {"legs": len(self.legs), "controllers": len(self._controllers),
                "held": self._held(), "pending": len(self._pending),
                "invites": self.stats.invites, "outcomes": dict(self.stats.outcomes),
                "legs_peak": self.stats.legs_peak, "rss_kb": rss_kb()}

    # -- Services (for controllers) -----------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def loop_account(self, route: str = "") -> pj.Account:
        """The loop account, or for an INVITE with a `route` (a service-URN Request-URI) the
        loop account whose route set that is; an unknown route gets the plain loop account
        (makeCall then fails at once and the bridge tries the next trunk)."""
        started = self._require_started()
        return started.route_accounts.get(route, started.loop_account) if route else \
            started.loop_account

    def new_leg(self, owner: int, account: pj.Account) -> Leg:
        leg = Leg(account, self, next(self._refs), owner)
        self._keep(leg)
        return leg

    def drop_leg(self, leg: Leg) -> None:
        """Forget a leg whose INVITE never went out (`makeCall` refused): no callback will."""
        leg.ended = True
        self._forget(leg)

    def schedule(self, owner: int, delay_seconds: float, tag: str) -> None:
        heapq.heappush(self._timers, (self._clock() + delay_seconds, next(self._timer_seq),
                                      owner, tag))

    def defer(self, owner: int, tag: str) -> None:
        self._deferred.append((owner, tag))

    def request_for(self, routed: Routed, attempt_index: int) -> OutgoingRequest:
        return self._build(routed, attempt_index)

    def emergency_redirect(self, routed: Routed, *, log: FilteringBoundLogger | None = None
                           ) -> tuple[tuple[str, str], ...]:
        """Headers of the 302 for a 911 the bridge could not complete: the front's (with
        the PIDF-LO) unless E911_EMERGENCY_PATH=bridge, else Contact + P-Asserted-Identity."""
        plan = routed.plan
        log = log or self._log
        if self.config.emergency_path is not EmergencyPath.BRIDGE:
            try:
                front = front_redirect(routed, host=self.config.host,
                                       call_ref=front_ref(routed.call_ref))
            except ValueError:
                log.exception("e911.emergency.front_build_failed")
            else:
                log.info("e911.emergency.front", front_ref=front.call_ref,
                         purpose=front.purpose.value, located=bool(front.pidf_lo),
                         bridge_free=False, held=self._held(), after_attempts=True,
                         left_out=list(front.left_out))
                return front.headers
        headers: list[tuple[str, str]] = [("Contact", f"<{plan.redirect_uri}>")]
        if plan.attempts:
            request = self._build(routed, len(plan.attempts) - 1)
            headers += [(n, v) for n, v in request.headers if n == "P-Asserted-Identity"]
        return tuple(headers)

    def finished(self, owner: int, outcome: CallOutcome) -> None:
        # The slots are released when every leg has ended (controller done), not here: a
        # trunk leg still sending its BYE holds a PJSUA slot, and counting it free too early
        # let a flood reach PJSUA's stateless 486.
        key = outcome.result.value
        self.stats.outcomes[key] = self.stats.outcomes.get(key, 0) + 1
        log = self._call_logs.get(owner) or self._log.bind(call_ref=outcome.call_ref)
        log.info("e911.call.ended", call_ref=outcome.call_ref,
                 call_class=outcome.call_class, action=outcome.action, path=outcome.path,
                 result=key, status=outcome.status, attempts=outcome.attempts,
                 trunk=outcome.trunk_purpose, location=outcome.location_source,
                 setup_ms=round(outcome.setup_seconds * 1000, 1))
        if self._on_outcome is not None:
            try:
                self._on_outcome(outcome)
            except Exception:  # an observer must never cost a call
                log.exception("e911.outcome.observer_failed")

    # -- LegEvents ----------------------------------------------------------------------

    def leg_state(self, leg: Leg, state: LegState, status: int) -> None:
        if state is LegState.DISCONNECTED:
            # Popped inside the callback: the slot may be reused by the next INVITE at once.
            self._forget(leg)
        controller = self._controllers.get(leg.owner)
        if controller is None:
            return
        self._guard(controller, lambda: controller.on_state(leg, state, status))
        if controller.done:
            self._retire(controller.ref)

    def leg_media(self, leg: Leg) -> None:
        controller = self._controllers.get(leg.owner)
        if controller is not None:
            self._guard(controller, lambda: controller.on_media(leg))

    def leg_offer(self, leg: Leg, offer: MidCallOffer) -> None:
        # Only a bridge's legs relay offers (Leg.relay_offers); other calls let PJSUA answer.
        controller = self._controllers.get(leg.owner)
        if isinstance(controller, Bridge):
            self._guard(controller, lambda: controller.on_offer(leg, offer))

    def leg_offer_result(self, leg: Leg, result: OfferResult) -> None:
        controller = self._controllers.get(leg.owner)
        if isinstance(controller, Bridge):
            self._guard(controller, lambda: controller.on_offer_result(leg, result))

    # -- ingress ------------------------------------------------------------------------

    def _select_account(self, whole_msg: str, src_address: str) -> str:
        """`onSelectAccount`: decide the whole call now, while no socket exists yet. The
        call gets its one reference here, before anything is logged about it."""
        received = self._clock()
        call_id = _call_id(whole_msg)
        call_ref = new_call_ref()
        log = self.call_log(call_ref, call_id, None)
        try:
            execution, log = self._decide(whole_msg, src_address, call_ref, log)
        except Exception:  # a bug here must not abort the SIP thread
            log.exception("e911.ingress.decide_failed")
            execution = Execution(ExecutionKind.RESPOND, None, status=500,
                                  reason="Server Internal Error")
        if call_id:
            self._pending[call_id] = _Pending(execution, received, call_ref, log)
        self._expire_pending()
        return AccountKind.MEDIA if execution.kind is ExecutionKind.ANNOUNCE else AccountKind.LOOP

    def call_log(self, call_ref: str, call_id: str, routed: Routed | None
                 ) -> FilteringBoundLogger:
        """The logger of one call: what every line about it carries (docs/observability.md).
        Before classification the class is "invalid" (as in its outcome) and the account
        unknown (null)."""
        return self._log.bind(
            call_ref=call_ref, call_id=call_id,
            call_class=routed.plan.call_class.value if routed is not None else "invalid",
            account=routed.known_account if routed is not None else None)

    def _decide(self, whole_msg: str, src_address: str, call_ref: str,
                log: FilteringBoundLogger) -> tuple[Execution, FilteringBoundLogger]:
        self.stats.invites += 1
        source_ip, _ = parse_source(src_address)
        if not is_trusted(source_ip, self.config.trusted_peers):
            # Only our PBXs (and the load balancer) may use us: RFC 3261 s21.4.4.
            log.info("e911.ingress.untrusted", source=str(source_ip))
            return Execution(ExecutionKind.RESPOND, None, status=403, reason="Forbidden"), log
        try:
            inbound = parse_invite(whole_msg, src_address, pbx_peers=self.config.pbx_peers,
                                   device_ip_header=self.config.device_ip_header,
                                   device_ip_required=self.config.device_ip_required)
        except IngressError as exc:
            return Execution(ExecutionKind.RESPOND, None, status=exc.status,
                             reason="Bad Request"), log
        routed = self._router.route(inbound, call_ref=call_ref)
        # The caller only masked: never a full number in a log line.
        caller = mask_number(inbound.caller.user)
        if isinstance(routed, ParseFailure):
            log.info("e911.call.received", dialled_form=dialled_form(None), caller=caller)
            return Execution(ExecutionKind.RESPOND, None, status=routed.status, reason="Bad Request"
                             if routed.status == 400 else "Unsupported URI Scheme"), log
        log = self.call_log(call_ref, inbound.call_id, routed)
        log.info("e911.call.received", dialled_form=dialled_form(routed.dialed), caller=caller)
        if inbound.device_ip is None or not inbound.body_whole:
            # Issue 13: what we could not read is never guessed (docs/sip-worker.md).
            log.warning("e911.ingress.incomplete", truncated=inbound.truncated,
                        body_withheld=inbound.body_withheld,
                        device_known=inbound.device_ip is not None)
        return self._admit(routed, log), log

    def _admit(self, routed: Routed, log: FilteringBoundLogger) -> Execution:
        plan = routed.plan
        log.info("e911.route.decided", action=plan.action.value,
                 located=plan.location is not None
                 or isinstance(routed.location, Located),
                 attempts=len(plan.attempts), language=plan.language.value)
        if plan.action is Action.REDIRECT:
            return Execution(ExecutionKind.RESPOND, routed, status=302,
                             headers=(("Contact", f"<{plan.redirect_uri}>"),),
                             result=Result.REDIRECTED)
        if plan.action is Action.REJECT:
            return Execution(ExecutionKind.RESPOND, routed, status=plan.status, reason=plan.reason,
                             headers=(_reason(plan),), result=Result.REJECTED)
        if plan.action is Action.BRIDGE:
            unfit = self._not_bridgeable(routed)
            if plan.is_emergency and unfit:
                # Only the front can carry it with the caller's own body (issue 13).
                log.info("e911.emergency.not_bridgeable", why=unfit)
                return self._to_front(routed, log,
                                      bridge_free=self._slots.can_bridge_emergency(self._held()))
            if unfit:
                # An ordinary call the front holds the whole of: it follows the route itself.
                return Execution(ExecutionKind.RESPOND, routed, status=302,
                                 headers=(("Contact", f"<{plan.redirect_uri}>"),),
                                 result=Result.REDIRECTED)
            if plan.is_emergency:
                path = self.config.emergency_path
                # SlotPolicy keeps one slot free past the bridge (ingress_reserve): PJSUA answers
                # an INVITE beyond its 4 slots with a stateless 486 before our code sees it, so
                # a full worker could not hand the next 911 to the front (or redirect it) at
                # all. So 1 bridge a worker; then the front (auto) or a bare 302 (bridge).
                bridge_free = self._slots.can_bridge_emergency(self._held())
                if path is EmergencyPath.FRONT or (path is EmergencyPath.AUTO
                                                   and not bridge_free):
                    return self._to_front(routed, log, bridge_free=bridge_free)
                if bridge_free:
                    return Execution(ExecutionKind.BRIDGE, routed)
                # No slot for a bridge: never a failure to a 911, send it on by redirect.
                log.warning("e911.emergency.redirected_no_slot", held=self._held())
                return Execution(ExecutionKind.RESPOND, routed, status=302,
                                 headers=(("Contact", f"<{plan.redirect_uri}>"),),
                                 result=Result.REDIRECTED)
            if self._slots.can_bridge_normal(self._held()):
                return Execution(ExecutionKind.BRIDGE, routed)
            return _shed(routed)
        prompt = self._prompts.get(plan.language.value) or self._prompts.get(
            self.config.default_language)
        if prompt is not None and self.config.announce_front:
            # Issue 16: the front plays it (Kamailio + rtpengine); this slot frees at once.
            language = (plan.language.value if plan.language.value in self._prompts
                        else self.config.default_language)
            log.info("e911.announce.front", language=language)
            return Execution(ExecutionKind.RESPOND, routed, status=302, reason="Moved Temporarily",
                             headers=front_announce_headers(language),
                             result=Result.ANNOUNCED)
        if not routed.inbound.body_whole:
            # No whole offer to answer media to: the final answer at once, as with no prompt.
            prompt = None
        if prompt is None:
            log.warning("e911.announce.no_prompt", language=plan.language.value)
            return Execution(ExecutionKind.RESPOND, routed, status=plan.status,
                             headers=(_reason(plan),),
                             result=Result.ANNOUNCED)
        if not self._slots.can_hold_normal(self._held(), 1):
            return self._no_announcement(routed)
        if not self._media_guard.try_acquire(self._clock()):
            log.warning("e911.media.burst_guard")
            return self._no_announcement(routed)
        return Execution(ExecutionKind.ANNOUNCE, routed, prompt=prompt)

    def _not_bridgeable(self, routed: Routed) -> str:
        """Why a bridge could not carry this call ("" when it can): we do not have the
        caller's body whole, or the trunk INVITE would exceed what the wheel can send
        (PJSIP_EMSGTOOLONG, router.call.size)."""
        inbound = routed.inbound
        if inbound.body_withheld:
            return "body_withheld"
        if inbound.truncated:
            return "truncated"
        if not routed.plan.attempts:
            return ""
        sdp = inbound.body if "sdp" in inbound.content_type else ""
        extra = 80 if sdp else 0  # the RFC 8373 hlang lines
        largest = max(invite_size(self._build(routed, k), sdp) + extra
                      for k in range(len(routed.plan.attempts)))
        return "too_large" if largest > SEND_BUDGET_BYTES else ""

    def _to_front(self, routed: Routed, log: FilteringBoundLogger, *,
                  bridge_free: bool) -> Execution:
        """The emergency 302 that Kamailio turns into the emergency INVITE
        (router.call.front_redirect): emergency capacity becomes the front's, and the PIDF-LO
        still goes with the call."""
        try:
            front = front_redirect(routed, host=self.config.host,
                                   call_ref=front_ref(routed.call_ref))
        except ValueError:  # an unsafe value: never a failure to a 911, send it on bare
            log.exception("e911.emergency.front_build_failed")
            return Execution(ExecutionKind.RESPOND, routed, status=302,
                             headers=(("Contact", f"<{routed.plan.redirect_uri}>"),),
                             result=Result.REDIRECTED)
        log.info("e911.emergency.front", front_ref=front.call_ref,
                 purpose=front.purpose.value, located=bool(front.pidf_lo),
                 bridge_free=bridge_free, held=self._held(), left_out=list(front.left_out))
        return Execution(ExecutionKind.RESPOND, routed, status=302, reason="Moved Temporarily",
                         headers=front.headers, result=Result.REDIRECTED, front=front)

    def _no_announcement(self, routed: Routed) -> Execution:
        """No slot to play the prompt. The call is refused either way; with
        E911_ANNOUNCE_OVERFLOW=reject it gets its final 403 + Reason now (a 503 would invite a
        retry that can never succeed), otherwise it is shed like any call beyond capacity."""
        if not self.config.announce_overflow_reject:
            return _shed(routed)
        plan = routed.plan
        return Execution(ExecutionKind.RESPOND, routed, status=plan.status,
                         headers=(_reason(plan),),
                         result=Result.REJECTED)

    def _incoming(self, account: RouterAccount, call_id: int, whole_msg: str) -> None:
        """`onIncomingCall`: the decision made moments ago takes the call."""
        sip_call_id = _call_id(whole_msg)
        pending = self._pending.pop(sip_call_id, None)
        if pending is None:  # no decision for this Call-ID (expired, or a bug): 500
            call_ref = new_call_ref()
            pending = _Pending(Execution(ExecutionKind.RESPOND, None, status=500,
                                         reason="Server Internal Error"),
                               self._clock(), call_ref,
                               self.call_log(call_ref, sip_call_id, None))
        execution = pending.execution
        if execution.routed is not None and self._on_route_decided is not None:
            # Told here, when the call is ours, not in onSelectAccount: PJSUA may still refuse
            # the INVITE after that (400 Bad SDP, 488, its stateless 486), and the front then
            # sends it again, to this worker (body withheld) or the next (issue 13): one Kari's
            # Law notice for the call it takes.
            try:  # Kari's Law notice (router.notify): a queue put, no I/O on this thread
                self._on_route_decided(execution.routed)
            except Exception:  # an observer must never cost a call
                pending.log.exception("e911.route.observer_failed")
        ref = next(self._refs)
        leg = Leg(account, self, next(self._refs), ref, call_id)
        leg.on_media_account = account.kind == AccountKind.MEDIA
        self._keep(leg)
        controller: Response | Bridge | Announcement
        if execution.kind is ExecutionKind.BRIDGE and execution.routed is not None:
            slots = 2
            controller = Bridge(ref, self, execution.routed, leg, log=pending.log,
                                attempt_timeout_seconds=self.config.trunk_timeout_seconds)
        elif execution.kind is ExecutionKind.ANNOUNCE and execution.routed is not None and \
                execution.prompt is not None and account.kind == AccountKind.MEDIA:
            slots = 1
            controller = Announcement(ref, self, execution.routed.plan, leg,
                                      execution.prompt, log=pending.log,
                                      call_ref=pending.call_ref,
                                      invite_at=pending.created)
        else:
            slots = 0
            if execution.kind is not ExecutionKind.RESPOND:
                execution = _shed(execution.routed)
            controller = Response(ref, self, execution, leg, log=pending.log,
                                  call_ref=pending.call_ref, invite_at=pending.created)
        self._controllers[ref] = controller
        self._call_logs[ref] = pending.log
        if slots:
            self._held_by[ref] = slots
        # An INVITE without SDP is never answered inside onIncomingCall (issue 13, finding 4):
        # pjsua2's wrapper frees the INVITE's cloned rdata after this callback without a NULL
        # check, and a final answer given inside it to an INVITE without SDP (a late offer, a
        # body the front withheld or the wheel cut off) resets the call, which frees and NULLs
        # it first: `pjsip_rx_data_free_cloned: Assertion 'rdata' failed`, the worker aborts
        # with every call it held. Such a controller starts on the loop's next turn. A call
        # with an SDP offer starts here, as it always did: waiting a loop turn keeps its slot
        # up to ~10 ms longer, and under a redirect flood that filled all 4 slots so PJSUA
        # answered a 911 with its stateless 486 (tests/scenarios/test_load.py).
        if has_body(whole_msg):
            self._guard(controller, controller.start)
            if controller.done:
                self._retire(ref)
        else:
            self._starts.append(ref)

    # -- loop internals -----------------------------------------------------------------

    def _held(self) -> int:
        """Slots held by calls that stay: what each reserved, or more while it has more live
        legs than that (abandoned attempts), plus media calls that ended less than
        MEDIA_LINGER_SECONDS ago."""
        now = self._clock()
        while self._lingering and self._lingering[0] <= now:
            self._lingering.popleft()
        return len(self._lingering) + sum(max(reserved, self._live.get(ref, 0))
                                          for ref, reserved in self._held_by.items())

    def _forget(self, leg: Leg) -> None:
        if self.legs.pop(leg.ref, None) is not None:
            if leg.on_media_account:
                self._lingering.append(self._clock() + MEDIA_LINGER_SECONDS)
            left = self._live.get(leg.owner, 0) - 1
            if left > 0:
                self._live[leg.owner] = left
            else:
                self._live.pop(leg.owner, None)

    def _keep(self, leg: Leg) -> None:
        self._live[leg.owner] = self._live.get(leg.owner, 0) + 1
        self.legs[leg.ref] = leg
        if len(self.legs) > self.stats.legs_peak:
            self.stats.legs_peak = len(self.legs)

    def _release(self, ref: int) -> None:
        self._held_by.pop(ref, None)

    def _retire(self, ref: int) -> None:
        """A controller is done (every leg ended): forget it, its slots and its logger."""
        self._controllers.pop(ref, None)
        self._call_logs.pop(ref, None)
        self._release(ref)

    def _guard(self, controller: Controller, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:  # one call's bug must not take the worker down
            self._call_logs.get(controller.ref, self._log).exception("e911.controller.failed")

    def _run_deferred(self) -> None:
        while self._starts:
            ref = self._starts.popleft()
            controller = self._controllers.get(ref)
            if controller is not None:
                self._guard(controller, controller.start)
                if controller.done:
                    self._retire(ref)
        for _ in range(len(self._deferred)):
            owner, tag = self._deferred.popleft()
            self._fire(owner, tag)

    def _run_timers(self) -> None:
        now = self._clock()
        while self._timers and self._timers[0][0] <= now:
            _, _, owner, tag = heapq.heappop(self._timers)
            self._fire(owner, tag)

    def _fire(self, owner: int, tag: str) -> None:
        controller = self._controllers.get(owner)
        if controller is None:
            return
        self._guard(controller, lambda: controller.on_timer(tag))
        if controller.done:
            self._retire(owner)

    def _run_jobs(self) -> None:
        while True:
            try:
                job, future = self._jobs.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except Exception as exc:  # handed back to the caller
                future.set_exception(exc)

    def _expire_pending(self) -> None:
        if len(self._pending) < 64:
            return
        cutoff = self._clock() - PENDING_TTL_SECONDS
        for key in [k for k, p in self._pending.items() if p.created < cutoff]:
            del self._pending[key]

    def _require_started(self) -> Started:
        if self._started is None:
            raise RuntimeError("worker not started")
        return self._started


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def trim_heap() -> float:
    """Give freed heap back to the OS (glibc `malloc_trim`); the milliseconds it took.

    Measured: without it, a worker's RSS grew about 3 KB per INVITE (915 MB after 95,000
    INVITEs) although live Python and PJSIP memory stayed flat: freed memory stuck between
    PJSIP pool blocks and per-call Python strings. One trim every few seconds keeps RSS flat.
    """
    if _MALLOC_TRIM is None:
        return 0.0
    started = time.monotonic()
    _MALLOC_TRIM(0)
    return round((time.monotonic() - started) * 1000, 2)


def rss_kb() -> int:
    """Resident set size of this process (Linux /proc), 0 where unavailable."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


def has_body(whole_msg: str) -> bool:
    """True when the message carries a body (RFC 3261 s7.4: after the empty line)."""
    return bool(head_and_body(whole_msg)[1].strip())


def _call_id(whole_msg: str) -> str:
    _, headers, _ = split_message(whole_msg)
    return header(headers, "call-id") or ""


_FRONT_REF = re.compile(r"[0-9a-f]{16}")


def front_ref(call_ref: str) -> str | None:
    """The front's X-E911-Call-Ref (16 hex digits, what Kamailio accepts): the call_ref's last
    16 hex digits, so that grepping it also finds our log lines; None (a random one) when the
    call_ref has no such tail."""
    tail = call_ref[-16:]
    return tail if _FRONT_REF.fullmatch(tail) else None


def _reason(plan: CallPlan) -> tuple[str, str]:
    """RFC 3326 s2: `Reason: SIP;cause=<code>;text="<why>"` (`CallPlan.reason_header`)."""
    return plan.reason_header


def _shed(routed: Routed | None) -> Execution:
    """RFC 3261 s21.5.4: 503 with Retry-After, so the PBX (or Kamailio) tries elsewhere."""
    return Execution(ExecutionKind.RESPOND, routed, status=503, reason="Service Unavailable",
                     headers=(("Retry-After", str(RETRY_AFTER_SECONDS)),),
                     result=Result.SHED)


def inbound_of(routed: Routed) -> InboundCall:
    return routed.inbound
