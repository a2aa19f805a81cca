"""Signalling-only B2BUA: the caller leg and one trunk leg at a time, hunting along the plan.

    caller --INVITE--> [Bridge] --INVITE (PIDF-LO, PAI, Priority)--> trunk 1
                                <-- 503 / 408 / 5xx / 6xx / timeout
                                --INVITE--> trunk 2 ... --> sorting center (last)
           <--180/183-- relayed <-- 18x
           <--200 (trunk SDP)-- <-- 200
    re-INVITE / UPDATE (SDP) from either side --> the same offer to the other side,
                                                  its answer back (re-INVITE: in our 200)
    BYE or CANCEL on either side ends the other.

The SDP passes through (the caller's offer goes out byte for byte in the trunk leg's
`onCallSdpCreated`; the trunk's answer comes back in `CallOpParam.sdp`), so no media flows
through this process and the bridge lives on the loop account. Cross-leg actions are deferred
to the worker loop (never made inside another call's pjsua2 callback).

Mid-call offers (RFC 3264 s8) cross the bridge one at a time: a re-INVITE is held by PJSUA
(`onCallRxReinvite` + `isAsync`) until the other leg answers; an UPDATE has already been
answered by PJSUA with the other leg's latest SDP and is passed on. A caller INVITE without SDP
(late offer, RFC 3261 s13.2.1) goes out without SDP; the trunk's offer in its 200 goes to the
caller in our 200, and the caller's answer (in its ACK) reaches the trunk in a re-INVITE,
because PJSUA has already sent the trunk's ACK by then (docs/sip-worker.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import pjsua2 as pj
from structlog.typing import FilteringBoundLogger

from router.call.decide import Routed
from router.call.outcome import CallOutcome, CallPath, Result, TrunkAttempt
from router.call.plan import Action
from router.call.sdp import media_address
from router.call.trunk_request import call_facts, pidf_of
from router.hlang import add_hlang
from router.sip.control import Services
from router.sip.legs import Leg, LegState, MidCallOffer, OfferResult, call_param, invite_param

MAKE_CALL_RETRIES = 20
"""`makeCall` refused for want of a slot (PJ_ETOOMANY, for an instant): retry on the next loop
turns (~10 ms each) before counting the attempt as failed. Only that error is retried."""

PJ_ETOOMANY = 70010
"""pjlib's PJ_ETOOMANY (PJ_ERRNO_START_STATUS + 10): no free call slot."""

PJSIP_EMSGTOOLONG = 171023
"""The INVITE does not fit the wheel's 4,000-byte message buffer (docs/sip-worker.md, "Message
size"). Issue 13: it was retried like PJ_ETOOMANY, 21 `e911.trunk.attempt` lines per trunk,
and the caller heard nothing but 100 Trying; no trunk can take an INVITE that cannot be built,
so the call goes to the end of the hunt at once (a 911: the front, with the caller's body)."""


class BridgeState(Enum):
    HUNTING = "hunting"
    RINGING = "ringing"
    """A trunk sent 18x; we relayed it and stopped the attempt timer."""
    ANSWERED = "answered"
    ENDED = "ended"


@dataclass(slots=True)
class _Relay:
    """An offer on its way across the bridge (one at a time: RFC 3261 s14.1, RFC 3311 s5.1)."""

    method: str
    """How it goes out: INVITE (re-INVITE) or UPDATE."""
    source: Leg | None
    """The leg whose re-INVITE waits for the answer; None when nothing waits (an UPDATE that
    PJSUA answered already, the late-offer answer from the caller's ACK)."""
    target: Leg
    sdp: str
    origin: Leg | None = None
    """The leg whose SDP this is, when it has already been given an SDP of the target's (an
    UPDATE PJSUA answered, the late offer's 200): if the target's answer moves its media away
    from `told`, the origin is offered the new SDP in a re-INVITE."""
    told: str = ""


_ALLOWED: dict[BridgeState, frozenset[BridgeState]] = {
    BridgeState.HUNTING: frozenset({BridgeState.RINGING, BridgeState.ANSWERED, BridgeState.ENDED}),
    BridgeState.RINGING: frozenset({BridgeState.HUNTING, BridgeState.ANSWERED, BridgeState.ENDED}),
    BridgeState.ANSWERED: frozenset({BridgeState.ENDED}),
    BridgeState.ENDED: frozenset(),
}


class Bridge:
    def __init__(
        self,
        ref: int,
        services: Services,
        routed: Routed,
        caller: Leg,
        *,
        log: FilteringBoundLogger,
        attempt_timeout_seconds: float,
    ) -> None:
        self.ref = ref
        self._svc = services
        self._log = log
        """The call's own logger (call_ref, call_id, call_class, account, port)."""
        self._routed = routed
        self._plan = routed.plan
        self._caller = caller
        self._timeout = attempt_timeout_seconds
        self._legs: list[Leg] = [caller]
        self._trunk: Leg | None = None
        self._index = -1
        self._attempts = 0
        self._last_status = 0
        self._early_sent = False
        self._early_sdp_sent = False
        self._make_failures = 0
        self._placing = False
        """Inside `makeCall`: PJSUA may end the leg there (DISCONNECTED 503, e.g. with
        PJSIP_EMSGTOOLONG) before it raises; `_try` then decides what comes next, once."""
        self._gone_while_placing = 0
        self._state = BridgeState.HUNTING
        self._started = services.now()
        self._answered_at = 0.0
        self._upstream = 0
        self._result: Result | None = None
        self._tried: list[TrunkAttempt] = []
        """For the call record: every INVITE sent and how it ended."""
        self._pidf_sent = ""
        self._late_offer = not self._caller_offer()
        """The caller's INVITE had no SDP (RFC 3261 s13.2.1)."""
        self._relay: _Relay | None = None
        self._replies: list[tuple[Leg, int, str]] = []
        """Answers to held re-INVITEs, sent on the next loop turn: (leg, status, SDP)."""

    @property
    def done(self) -> bool:
        return self._state is BridgeState.ENDED and all(leg.ended for leg in self._legs)

    def _set_state(self, new: BridgeState) -> None:
        if new is self._state:
            return
        if new not in _ALLOWED[self._state]:
            raise RuntimeError(f"bridge {self.ref}: {self._state.value} -> {new.value}")
        self._log.info("e911.bridge.state", old=self._state.value, new=new.value)
        self._state = new

    def start(self) -> None:
        # RFC 3261 s13.3.1.1: tell the caller we are working on it; the trunk's own 18x follows.
        self._svc.defer(self.ref, "next")

    # -- events -------------------------------------------------------------------------

    def on_state(self, leg: Leg, state: LegState, status: int) -> None:
        if leg is self._caller:
            if state is LegState.DISCONNECTED:
                self._caller_gone(status)
            elif state is LegState.CONFIRMED and self._late_offer and \
                    self._state is BridgeState.ANSWERED:
                self._svc.defer(self.ref, "relay-ack")
            return
        if leg is not self._trunk:
            return  # an abandoned attempt finishing late: nothing to do but let it go
        if state is LegState.EARLY and self._state is BridgeState.HUNTING:
            self._set_state(BridgeState.RINGING)
            self._svc.defer(self.ref, "relay-early")
        elif state is LegState.CONFIRMED and self._state in (BridgeState.HUNTING,
                                                               BridgeState.RINGING):
            self._set_state(BridgeState.ANSWERED)
            self._attempt_ended(200)
            self._svc.defer(self.ref, "relay-answer")
        elif state is LegState.DISCONNECTED:
            self._trunk_gone(status)

    def on_media(self, leg: Leg) -> None:
        return

    def on_timer(self, tag: str) -> None:
        if self._state is BridgeState.ENDED and tag not in ("hangup-caller", "hangup-trunks"):
            return
        if tag == "next":
            self._try(self._index + 1)
        elif tag.startswith("timeout:"):
            if int(tag.split(":", 1)[1]) == self._index and self._state is BridgeState.HUNTING:
                self._abandon_attempt()
        elif tag == "relay-early":
            self._relay_early()
        elif tag == "relay-answer":
            self._relay_answer()
        elif tag == "hangup-caller":
            self._end_relay()
            _hangup(self._caller)
        elif tag == "hangup-trunks":
            self._end_relay()
            for leg in self._legs[1:]:
                _hangup(leg)
        elif tag == "exhausted":
            self._exhausted()
        elif tag == "relay-offer":
            self._send_relay()
        elif tag == "reply-offer":
            self._send_replies()
        elif tag == "relay-ack":
            self._relay_ack_answer()

    def on_offer(self, leg: Leg, offer: MidCallOffer) -> None:
        """A re-INVITE or UPDATE with SDP from one leg: the same offer goes to the other leg."""
        target = self._other(leg)
        side = self._side(leg)
        if self._state is not BridgeState.ANSWERED or target is None or target.ended or \
                self._relay is not None:
            # Another offer is crossing the bridge, or the call is ending. RFC 3261 s14.1:
            # 491, the sender retries after a random wait.
            self._log.info("e911.bridge.offer_refused", side=side, method=offer.method)
            if not offer.answered:
                self._reply(leg, 491)
            return
        self._log.info("e911.bridge.offer", side=side, method=offer.method)
        self._relay = _Relay(offer.method, None if offer.answered else leg, target,
                             self._offer_for(target, offer.sdp),
                             origin=leg if offer.answered else None,
                             told=leg.local_sdp if offer.answered else "")
        self._svc.defer(self.ref, "relay-offer")

    def on_offer_result(self, leg: Leg, result: OfferResult) -> None:
        """The other leg's final response to a relayed offer: its answer goes back."""
        relay = self._relay
        if relay is None or leg is not relay.target:
            return
        if result.method == "UPDATE" and result.status in (405, 501):
            # UPDATE is optional (RFC 3311): the same offer in a re-INVITE instead.
            relay.method = "INVITE"
            self._svc.defer(self.ref, "relay-offer")
            return
        self._relay = None
        self._log.info("e911.bridge.offer_answered", side=self._side(leg), method=result.method,
                      status=result.status)
        other = self._other(leg)
        if 200 <= result.status < 300 and result.sdp and other is not None:
            other.local_sdp = result.sdp
            origin = relay.origin
            if origin is not None and not origin.ended and relay.told and \
                    media_address(result.sdp) != media_address(relay.told):
                # The origin holds an older SDP of this side's (PJSUA answered its UPDATE, or
                # our 200 carried the trunk's first offer) and the answer moved the media: offer
                # the origin the new one. Its answer stays here (no `told`: no ping-pong).
                self._log.info("e911.bridge.offer_refresh", side=self._side(origin))
                self._relay = _Relay("INVITE", None, origin, self._offer_for(origin, result.sdp))
                self._svc.defer(self.ref, "relay-offer")
        if relay.source is not None:
            # RFC 5057 s5.2: a 408/481 to a re-INVITE ends that dialog, not the caller's: the
            # caller gets 500 and the trunk leg's own end (if it ended) hangs the call up.
            status = 500 if result.status in (408, 481) else result.status
            self._reply(relay.source, status, result.sdp)

    # -- mid-call offers ------------------------------------------------------------------

    def _send_relay(self) -> None:
        relay = self._relay
        if relay is None:
            return
        if relay.target.ended or self._state is BridgeState.ENDED:
            self._relay = None
            return  # the call is ending: the BYE answers for everything
        try:
            relay.target.send_offer(relay.method, relay.sdp)
        except pj.Error as exc:
            # The other leg has a transaction of its own in progress (or is not confirmed
            # yet): the sender retries (491).
            self._relay = None
            self._log.info("e911.bridge.offer_failed", side=self._side(relay.target),
                          method=relay.method, error=exc.reason)
            if relay.source is not None:
                self._reply(relay.source, 491)

    def _reply(self, leg: Leg, status: int, sdp: str = "") -> None:
        self._replies.append((leg, status, sdp))
        self._svc.defer(self.ref, "reply-offer")

    def _send_replies(self) -> None:
        replies, self._replies = self._replies, []
        for leg, status, sdp in replies:
            if leg.ended:
                continue
            if 200 <= status < 300 and not sdp:
                sdp = leg.local_sdp  # a 2xx without SDP: the other side's last one stands
            try:
                leg.answer_offer(status, sdp)
            except pj.Error as exc:
                # CANCELled meanwhile (PJSUA answered 487 itself) or the call is ending.
                self._log.info("e911.bridge.offer_reply_failed", side=self._side(leg),
                              status=status, error=exc.reason)

    def _end_relay(self) -> None:
        """The call is ending: a re-INVITE still held gets its final response before our BYE
        (RFC 3261 s15.1.2 recommends 487; measured: PJSUA's BYE alone leaves it unanswered)."""
        relay, self._relay = self._relay, None
        if relay is not None and relay.source is not None:
            self._replies.append((relay.source, 487, ""))
        self._send_replies()

    def _relay_ack_answer(self) -> None:
        """Late offer: the caller answered the trunk's offer in its ACK. PJSUA acknowledged the
        trunk's 200 at once with its own answer, so the caller's answer reaches the trunk as
        the offer of a re-INVITE (RFC 3261 s14.1)."""
        trunk = self._trunk
        answer = self._caller.ack_sdp
        if trunk is None or trunk.ended or self._state is not BridgeState.ANSWERED:
            return
        if not answer:
            self._log.info("e911.bridge.late_offer_no_answer")
            return
        if self._relay is not None:
            self._svc.schedule(self.ref, 0.05, "relay-ack")  # after the offer in flight
            return
        self._log.info("e911.bridge.offer", side="caller", method="ACK")
        self._relay = _Relay("INVITE", None, trunk, self._offer_for(trunk, answer),
                             origin=self._caller, told=self._caller.local_sdp)
        self._send_relay()

    def _other(self, leg: Leg) -> Leg | None:
        if leg is self._caller:
            return self._trunk
        return self._caller if leg is self._trunk else None

    def _side(self, leg: Leg) -> str:
        return "caller" if leg is self._caller else "trunk"

    def _offer_for(self, target: Leg, sdp: str) -> str:
        """What goes to `target`: toward the trunk, with the caller's language (RFC 8373)."""
        if target is self._caller or not sdp:
            return sdp
        return add_hlang(sdp, self._plan.language.value)

    def _caller_offer(self) -> str:
        inbound = self._routed.inbound
        return inbound.body if "sdp" in inbound.content_type else ""

    # -- hunting ------------------------------------------------------------------------

    def _try(self, index: int) -> None:
        attempts = self._plan.attempts
        if index >= len(attempts):
            self._exhausted()
            return
        self._index = index
        self._attempts += 1
        attempt = attempts[index]
        request = self._svc.request_for(self._routed, index)
        leg = self._svc.new_leg(self.ref, self._svc.loop_account(request.route))
        leg.local_sdp = self._offer_for(leg, self._caller_offer())
        self._legs.append(leg)
        self._trunk = leg
        if self._tried and self._make_failures == 0:  # not a retry of the same attempt
            last = self._tried[-1]
            self._log.info("e911.leg.failed_over", from_trunk=last.trunk, to_trunk=attempt.trunk,
                          status="timeout" if last.timed_out else "not_sent" if last.not_sent
                          else last.status, attempt=index + 1)
        self._tried.append(TrunkAttempt(attempt.trunk, attempt.purpose))
        self._pidf_sent = pidf_of(request) or self._pidf_sent
        self._log.info("e911.trunk.attempt", attempt=index + 1, purpose=attempt.purpose.value)
        self._placing = True
        try:
            leg.makeCall(request.uri, invite_param(request, sdp_offer=not self._late_offer))
        except pj.Error as exc:
            self._placing = False
            self._gone_while_placing = 0
            self._svc.drop_leg(leg)
            self._legs.remove(leg)
            self._trunk = None
            self._attempts -= 1
            self._make_failures += 1
            if exc.status == PJ_ETOOMANY and self._make_failures <= MAKE_CALL_RETRIES:
                # Usually no free slot for a moment: try the same attempt on the next turn.
                self._tried.pop()
                self._index = index - 1
                self._svc.defer(self.ref, "next")
                return
            self._log.info("e911.trunk.invite_failed", purpose=attempt.purpose.value,
                          error=exc.reason, status=exc.status)
            self._make_failures = 0
            self._last_status = 500
            self._index = index
            self._attempts += 1
            self._attempt_ended(500, not_sent=True)
            more = index + 1 < len(attempts) and exc.status != PJSIP_EMSGTOOLONG
            self._svc.defer(self.ref, "next" if more else "exhausted")
            return
        self._placing = False
        gone, self._gone_while_placing = self._gone_while_placing, 0
        if gone:  # ended inside makeCall without raising: an attempt that failed at once
            self._make_failures = 0
            self._trunk_gone(gone)
            return
        self._make_failures = 0
        self._svc.schedule(self.ref, self._timeout, f"timeout:{index}")

    def _abandon_attempt(self) -> None:
        """No 18x or final within the trunk timeout: give up on it (CANCEL) and hunt on at once;
        the abandoned leg finishes by itself (a silent trunk's INVITE times out in Timer B)."""
        leg = self._trunk
        self._trunk = None
        self._last_status = 408
        if leg is not None:
            self._attempt_ended(408, timed_out=True)
            self._log.info("e911.trunk.timeout", attempt=self._index + 1)
            _hangup(leg)
        if self._plan.hunts_on(408):
            self._try(self._index + 1)
        else:
            self._exhausted()

    def _trunk_gone(self, status: int) -> None:
        if self._placing:
            # Issue 13: handled by `_try` when makeCall returns or raises. Hunting on from here
            # as well sent the call to the next trunk AND answered the caller's 302 (an orphan
            # call at the sorting center).
            self._gone_while_placing = status or 500
            return
        self._trunk = None
        self._attempt_ended(status)
        if self._state is BridgeState.ENDED:
            return  # our own BYE/CANCEL after the caller left: nothing more to do
        if self._state is BridgeState.ANSWERED:
            # The far end hung up (BYE from the PSAP): end the caller's side too.
            self._finish(Result.BRIDGED, 200)
            self._svc.defer(self.ref, "hangup-caller")
            return
        self._last_status = status or 500
        self._log.info("e911.trunk.failed", attempt=self._index + 1, status=self._last_status)
        if self._state is BridgeState.RINGING:
            self._set_state(BridgeState.HUNTING)
        if self._plan.hunts_on(self._last_status) and self._index + 1 < len(self._plan.attempts):
            self._svc.defer(self.ref, "next")
        else:
            self._svc.defer(self.ref, "exhausted")

    def _relay_early(self) -> None:
        if self._early_sent or self._caller.ended or self._trunk is None:
            return
        self._early_sent = True
        # A late-offer caller gets a plain 180: an offer in an unreliable 18x is not allowed
        # (RFC 3261 s13.2.1), and the trunk cannot have answered an offer it never got.
        sdp = "" if self._late_offer else self._trunk.early_sdp
        self._early_sdp_sent = bool(sdp)
        self._answer(183 if sdp else 180, sdp=sdp, call_setting=not self._late_offer)

    def _relay_answer(self) -> None:
        trunk = self._trunk
        if self._caller.ended or trunk is None:
            return
        self._answered_at = self._svc.now()
        self._upstream = 200
        # Every SDP PJSUA makes for the caller from now on is the trunk's latest.
        self._caller.local_sdp = trunk.answer_sdp or trunk.early_sdp
        if self._late_offer:
            # The trunk's offer (its 200) becomes our offer in the caller's 200, through the
            # caller leg's onCallSdpCreated; the caller answers in its ACK ("relay-ack").
            self._answer(200)
        else:
            # After a 183 with SDP the offer/answer is done (RFC 3264 s4): the 200 repeats it.
            self._answer(200, sdp="" if self._early_sdp_sent else trunk.answer_sdp)
        self._caller.relay_offers = trunk.relay_offers = True

    def _exhausted(self) -> None:
        """Every attempt failed. A 911 still gets somewhere: 302 to the emergency route (the
        PBX or Kamailio follows it; the carrier routes on ANI). Other calls get the failure."""
        if self._caller.ended or self._state is BridgeState.ENDED:
            return
        if self._plan.is_emergency:
            # Through the front when it is configured (the 302 then carries the PIDF-LO for
            # Kamailio to send on: it matters most when no INVITE could go out at all, e.g.
            # PJ_ETOOMANY in a flood), else to the bare emergency route with the PAI.
            headers = list(self._svc.emergency_redirect(self._routed, log=self._log))
            # Finish first: the answer disconnects the caller leg inside the call.
            self._finish(Result.FAILED, 302)
            self._answer(302, headers=headers)
            return
        status = self._last_status if 400 <= self._last_status < 700 else 502
        if self._plan.action is Action.BRIDGE and status >= 500 and status not in (503, 504):
            status = 502
        self._finish(Result.FAILED, status)
        self._answer(status)

    def _answer(self, status: int, *, headers: list[tuple[str, str]] | None = None,
                sdp: str = "", call_setting: bool = True) -> None:
        if self._caller.ended:
            return
        try:
            self._caller.answer(call_param(status, headers=headers or (), sdp=sdp,
                                           call_setting=call_setting))
        except pj.Error as exc:
            # The caller left between the decision and this answer, or PJSUA refused it.
            self._log.info("e911.bridge.answer_failed", status=status, error=exc.reason)

    # -- ends ---------------------------------------------------------------------------

    def _caller_gone(self, status: int) -> None:
        if self._state is not BridgeState.ENDED:
            if self._state is BridgeState.ANSWERED:
                self._finish(Result.BRIDGED, 200)
            else:
                self._finish(Result.CANCELLED, status or 487)
        self._svc.defer(self.ref, "hangup-trunks")

    def _attempt_ended(self, status: int, *, timed_out: bool = False,
                       not_sent: bool = False) -> None:
        """Note the current attempt's final status once (the first one that came counts)."""
        if self._tried and self._tried[-1].status == 0:
            last = self._tried[-1]
            self._tried[-1] = TrunkAttempt(last.trunk, last.purpose, status or 500,
                                           timed_out, not_sent)

    def _finish(self, result: Result, status: int) -> None:
        if self._state is BridgeState.ENDED:
            return
        self._set_state(BridgeState.ENDED)
        now = self._svc.now()
        attempt = self._plan.attempts[self._index] if 0 <= self._index < len(
            self._plan.attempts) else None
        location = self._plan.location
        self._svc.finished(self.ref, CallOutcome(
            call_ref=self._routed.call_ref or str(self.ref),
            call_class=self._plan.call_class,
            action=self._plan.action,
            result=result,
            status=status,
            trunk_purpose=attempt.purpose if attempt and result is Result.BRIDGED else "",
            attempts=self._attempts,
            location_source=location.source.value if location is not None else "",
            setup_seconds=(self._answered_at or now) - self._started,
            duration_seconds=now - self._answered_at if self._answered_at else 0.0,
            facts=call_facts(self._routed),
            tried=tuple(self._tried),
            trunk_used=attempt.trunk if attempt and result is Result.BRIDGED else "",
            pidf_lo=self._pidf_sent,
            path=CallPath.BRIDGE if self._plan.is_emergency else CallPath.NONE,
        ))


def _hangup(leg: Leg) -> None:
    if leg.ended:
        return
    try:
        leg.hangup(call_param())
    except pj.Error:
        return
