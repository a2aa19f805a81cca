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
from enum import Enum
from typing import Protocol

import pjsua2 as pj

from router.sip.outgoing import OutgoingRequest
from router.sip.sdp import sdp_body


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


class LegEvents(Protocol):
    """The worker side of a leg: it routes each event to the leg's controller."""

    def leg_state(self, leg: Leg, state: LegState, status: int) -> None: ...

    def leg_media(self, leg: Leg) -> None: ...


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
        self.offer_sdp = ""
        """For an outgoing bridge leg: the caller's offer, sent byte for byte."""
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
        self._events.leg_state(self, state, int(info.lastStatusCode))

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        event = prm.e
        if event.type != pj.PJSIP_EVENT_TSX_STATE:
            return
        tsx = event.body.tsxState
        if tsx.type != pj.PJSIP_EVENT_RX_MSG:
            return
        msg = tsx.src.rdata.wholeMsg
        body = sdp_body(msg) if msg.startswith("SIP/2.0 ") else ""
        if not body:
            return
        if msg.startswith("SIP/2.0 1"):
            self.early_sdp = body
        elif msg.startswith("SIP/2.0 2"):
            self.answer_sdp = body

    def onCallSdpCreated(self, prm: pj.OnCallSdpCreatedParam) -> None:
        # Signalling-only bridge: the trunk gets the caller's own offer, so media flows
        # between caller and trunk and never through this process.
        if self.offer_sdp:
            prm.sdp.wholeSdp = self.offer_sdp

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
) -> pj.CallOpParam:
    op = pj.CallOpParam(True)
    if status:
        op.statusCode = status
    if reason:
        op.reason = reason
    op.txOption.headers = headers_vector(headers)
    if sdp:
        op.sdp.wholeSdp = sdp
    return op


def invite_param(request: OutgoingRequest) -> pj.CallOpParam:
    """An outgoing INVITE: our headers, and our parts in a `multipart/mixed` body to which
    PJSUA appends its SDP last (RFC 5621 s3 allows any order; RFC 6442 s4.1 finds the PIDF-LO
    by Content-ID, not position)."""
    op = pj.CallOpParam(True)
    op.opt.audioCount = 1
    op.opt.videoCount = 0
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
