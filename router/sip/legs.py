"""A call leg: one pjsua2 `Call`, owned by the worker's `legs` dict until its DISCONNECTED.

Legs never see each other (sippy/b2bua style): a leg turns pjsua2 callbacks into typed events
for its controller (`Bridge`, `Announcement`, `Response`), which decides what the other leg does.

Why the dict and the pop inside the callback: a `Call` destroyed after its slot was reused sends
603 to the new call in that slot and cuts it off from Python. So the worker holds every leg by
our own `ref` (never a pjsua2 call id: those are reused) and removes it inside
`onCallState(DISCONNECTED)`, not a moment later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import pjsua2 as pj

from router.call.outgoing import OutgoingRequest
from router.call.sdp import sdp_body


class LegState(Enum):
    CALLING = "calling"
    EARLY = "early"
    """A provisional response with a to-tag (180/183)."""
    CONNECTING = "connecting"
    CONFIRMED = "confirmed"
    DISCONNECTED = "disconnected"


_STATES = {
    pj.PJSIP_INV_STATE_NULL: LegState.CALLING,
    pj.PJSIP_INV_STATE_CALLING: LegState.CALLING,
    pj.PJSIP_INV_STATE_INCOMING: LegState.CALLING,
    pj.PJSIP_INV_STATE_EARLY: LegState.EARLY,
    pj.PJSIP_INV_STATE_CONNECTING: LegState.CONNECTING,
    pj.PJSIP_INV_STATE_CONFIRMED: LegState.CONFIRMED,
    pj.PJSIP_INV_STATE_DISCONNECTED: LegState.DISCONNECTED,
}


@dataclass(frozen=True, slots=True)
class MidCallOffer:
    """An SDP offer the far end sent inside the confirmed dialog (RFC 3264 s8)."""

    method: str
    """INVITE (a re-INVITE) or UPDATE (RFC 3311)."""
    sdp: str
    """The offer as received (the request's body, byte for byte)."""
    answered: bool
    """True when PJSUA has already answered it (an UPDATE: PJSUA cannot hold its answer back),
    False when the request waits for `Leg.answer_offer`."""


@dataclass(frozen=True, slots=True)
class OfferResult:
    """The final response to an offer this leg sent (`Leg.send_offer`)."""

    method: str
    status: int
    """The final status; 408 when the request timed out, 503 when it could not be sent."""
    sdp: str
    """The answer in a 2xx, else ""."""


class LegEvents(Protocol):
    """The worker side of a leg: it routes each event to the leg's controller."""

    def leg_state(self, leg: Leg, state: LegState, status: int) -> None: ...

    def leg_media(self, leg: Leg) -> None: ...

    def leg_offer(self, leg: Leg, offer: MidCallOffer) -> None: ...

    def leg_offer_result(self, leg: Leg, result: OfferResult) -> None: ...


class Leg(pj.Call):  # type: ignore[misc]
    def __init__(
        self,
        account: pj.Account,
        events: LegEvents,
        ref: int,
        owner: int,
        call_id: int = pj.PJSUA_INVALID_ID,
    ) -> None:
        super().__init__(account, call_id)
        self.ref = ref
        self.owner = owner
        """The ref of the controller this leg belongs to."""
        self._events = events
        self.local_sdp = ""
        """For a bridge leg: the other leg's latest SDP. Every SDP PJSUA makes for this leg (the
        trunk's INVITE offer, a re-INVITE or UPDATE offer, the answer to an offer PJSUA answers
        itself) is replaced by it, so media flows between caller and trunk, never through us.
        Empty: PJSUA's own SDP (the loop account's, where nothing listens)."""
        self.relay_offers = False
        """Set by the bridge once both legs are up: a re-INVITE with SDP is held (PJSUA sends
        100 only) and reported as a `MidCallOffer`; an UPDATE is reported after PJSUA answered
        it. Unset (announcements, a bridge still ringing): PJSUA answers by itself."""
        self.awaiting = ""
        """The method of the offer `send_offer` sent and whose final response is pending."""
        self._sdp_before_offer = ""
        """`local_sdp` before `send_offer`: back in force when the offer is refused."""
        self.ack_sdp = ""
        """SDP in the ACK that confirmed this (incoming) leg: the caller's answer to the offer
        we sent in our 200 (late offer, RFC 3261 s13.2.1)."""
        self.early_sdp = ""
        """SDP received in a provisional response to our INVITE (early media)."""
        self.answer_sdp = ""
        """SDP received in the 2xx to our INVITE (the trunk's answer)."""
        self.ended = False
        self.on_media_account = False
        """True for a caller leg on the real-media account (announcements)."""

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        state = _STATES.get(info.state, LegState.CALLING)
        if state is LegState.DISCONNECTED:
            self.ended = True
        elif state is LegState.CONFIRMED and prm.e.type == pj.PJSIP_EVENT_RX_MSG:
            # The ACK that confirms an incoming call; after our offer in the 200 it carries
            # the caller's answer (measured: the state event's message is that ACK).
            msg = prm.e.body.rxMsg.rdata.wholeMsg
            if msg.startswith("ACK "):
                self.ack_sdp = sdp_body(msg)
        self._events.leg_state(self, state, int(info.lastStatusCode))

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        event = prm.e
        if event.type != pj.PJSIP_EVENT_TSX_STATE:
            return
        tsx_event = event.body.tsxState
        tsx = tsx_event.tsx
        if self.awaiting and tsx.role == pj.PJSIP_ROLE_UAC and tsx.method == self.awaiting \
                and tsx.statusCode >= 200 and tsx.state in (pj.PJSIP_TSX_STATE_COMPLETED,
                                                           pj.PJSIP_TSX_STATE_TERMINATED):
            # The final response to our re-INVITE/UPDATE, or its timeout (Timer B/F).
            msg = tsx_event.src.rdata.wholeMsg if tsx_event.type == pj.PJSIP_EVENT_RX_MSG \
                else ""
            method, self.awaiting = self.awaiting, ""
            status = int(tsx.statusCode)
            if status >= 300:
                # A refused offer changes nothing (RFC 3261 s14.1): the session, and what we
                # say on this leg, stay as they were.
                self.local_sdp = self._sdp_before_offer
            self._events.leg_offer_result(self, OfferResult(
                method, status, sdp_body(msg) if 200 <= status < 300 else ""))
            return
        if tsx_event.type != pj.PJSIP_EVENT_RX_MSG:
            return
        msg = tsx_event.src.rdata.wholeMsg
        body = sdp_body(msg)
        if not body:
            return
        if msg.startswith("UPDATE "):
            # PJSUA answered it already (RFC 3311 s5.2 leaves no room to wait): the answer was
            # this leg's `local_sdp`, negotiated against the offer; pass the offer on.
            if self.relay_offers and tsx.role == pj.PJSIP_ROLE_UAS:
                self._events.leg_offer(self, MidCallOffer("UPDATE", body, answered=True))
        elif msg.startswith("SIP/2.0 1"):
            self.early_sdp = body
        elif msg.startswith("SIP/2.0 2") and tsx.method == "INVITE":
            self.answer_sdp = body

    def onCallRxReinvite(self, prm: pj.OnCallRxReinviteParam) -> None:
        # Called for a re-INVITE with SDP only. Async: PJSUA sends 100 and the re-INVITE waits
        # for `answer_offer` with the other leg's answer (RFC 3261 s14.2).
        if not self.relay_offers:
            return
        prm.isAsync = True
        offer = sdp_body(prm.rdata.wholeMsg) or prm.offer.wholeSdp
        self._events.leg_offer(self, MidCallOffer("INVITE", offer, answered=False))

    def onCallSdpCreated(self, prm: pj.OnCallSdpCreatedParam) -> None:
        # Signalling-only bridge: every SDP we send on this leg is the other leg's, so media
        # flows between caller and trunk and never through this process.
        if self.local_sdp:
            prm.sdp.wholeSdp = self.local_sdp

    def send_offer(self, method: str, sdp: str) -> None:
        """Send `sdp` as a new offer in a re-INVITE or an UPDATE; the final response comes back
        as an `OfferResult`. Raises `pj.Error` when PJSUA cannot send it now."""
        self._sdp_before_offer, self.local_sdp = self.local_sdp, sdp
        self.awaiting = method
        op = pj.CallOpParam(True)
        op.opt.audioCount = 1
        op.opt.videoCount = 0
        op.opt.flag = 0
        try:
            if method == "UPDATE":
                self.update(op)
            else:
                self.reinvite(op)
        except pj.Error:
            self.awaiting = ""
            self.local_sdp = self._sdp_before_offer
            raise

    def answer_offer(self, status: int, sdp: str = "") -> None:
        """Answer the re-INVITE held by `onCallRxReinvite`: 200 with `sdp`, or a failure."""
        if 200 <= status < 300 and sdp:
            self.local_sdp = sdp
        self.answer(call_param(status, sdp=sdp if 200 <= status < 300 else ""))

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        self._events.leg_media(self)

    def first_audio(self) -> pj.AudioMedia | None:
        """The active audio stream of this call, for a player to transmit to."""
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status in (
                pj.PJSUA_CALL_MEDIA_ACTIVE,
            ):
                return self.getAudioMedia(index)
        return None


def headers_vector(headers: Iterable[tuple[str, str]]) -> pj.SipHeaderVector:
    vector = pj.SipHeaderVector()
    for name, value in headers:
        header = pj.SipHeader()
        header.hName = name
        header.hValue = value
        vector.append(header)
    return vector


def call_param(
    status: int = 0,
    *,
    headers: Iterable[tuple[str, str]] = (),
    reason: str = "",
    sdp: str = "",
    call_setting: bool = True,
) -> pj.CallOpParam:
    """`call_setting=False` answers with no call setting: then a provisional answer to an
    INVITE without SDP does not make PJSUA create (and fix) its offer yet; the first answer
    with a setting does, through `onCallSdpCreated` (measured: a 180 with the default setting
    made the offer, so the 200 carried PJSUA's own instead of the trunk's)."""
    op = pj.CallOpParam(True)
    if not call_setting:
        # Not CallOpParam(): its CallSetting is left uninitialised in this wheel (garbage
        # counts measured); an explicit empty CallSetting is what PJSUA reads as "none".
        op.opt = pj.CallSetting()
    if status:
        op.statusCode = status
    if reason:
        op.reason = reason
    op.txOption.headers = headers_vector(headers)
    if sdp:
        op.sdp.wholeSdp = sdp
    return op


def invite_param(request: OutgoingRequest, *, sdp_offer: bool = True) -> pj.CallOpParam:
    """An outgoing INVITE: our headers, and our parts in a `multipart/mixed` body to which
    PJSUA appends its SDP last (RFC 5621 s3 allows any order; RFC 6442 s4.1 finds the PIDF-LO
    by Content-ID, not position). `sdp_offer=False`: no SDP at all (a late offer, RFC 3261
    s13.2.1: the far end offers in its 2xx)."""
    op = pj.CallOpParam(True)
    op.opt.audioCount = 1
    op.opt.videoCount = 0
    if not sdp_offer:
        op.opt.flag |= pj.PJSUA_CALL_NO_SDP_OFFER
    op.txOption.headers = headers_vector(request.headers)
    if request.parts:
        op.txOption.multipartContentType.type = "multipart"
        op.txOption.multipartContentType.subType = "mixed"
        parts = pj.SipMultipartPartVector()
        for part in request.parts:
            item = pj.SipMultipartPart()
            item.headers = headers_vector(part.headers)
            main, _, sub = part.content_type.partition("/")
            item.contentType.type = main
            item.contentType.subType = sub
            item.body = part.body
            parts.append(item)
        op.txOption.multipartParts = parts
    return op
