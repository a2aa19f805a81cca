"""Who gets a call slot: emergencies first, a burst guard for the real-media account. Pure.

A worker has 4 pjsua2 call slots (the wheel clamps `maxCalls`); a bridge holds 2 (caller leg and
trunk leg). Calls answered at once (302, 403, 503) hold a slot only while the SIP thread handles
them and are not counted. Two reserves:

- one slot is never held (`ingress_reserve`): pjsua2 answers an INVITE that finds every slot
  taken with a stateless 486 before our code sees it, and a 911 must always reach our code
  (which can at least redirect it). Measured in a flood: without this reserve, 3 of 30 911s
  got that 486 while 2 announcements and a bridge held all 4 slots;
- one bridge's worth is kept for emergencies: non-emergency calls that hold slots
  (announcements, normal-call bridges) get 503 + Retry-After (RFC 3261 s21.5.4) beyond that.

So a worker holds at most one emergency bridge and one announcement at a time; a 911 it cannot
bridge is redirected (302) to the emergency route, never refused.

The media account makes 2 RTP sockets per call before our code sees it and frees them 500 ms
late; the 64-handle `select` ioqueue aborts the process past about 33 quick calls in 0.5 s.
`MediaBurstGuard` lets at most `limit` new media calls through per `window_seconds`; the
rest land on the loop account and are answered 503.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

MAX_CALLS = 4
BRIDGE_SLOTS = 2
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True, slots=True)
class SlotPolicy:
    max_calls: int = MAX_CALLS
    ingress_reserve: int = 1
    reserved_for_emergency: int = BRIDGE_SLOTS

    def can_bridge_emergency(self, held: int) -> bool:
        """An emergency bridge needs its caller slot and one for the trunk leg."""
        return held + BRIDGE_SLOTS <= self.max_calls - self.ingress_reserve

    def can_bridge_normal(self, held: int) -> bool:
        """A normal-call bridge (E911_NORMAL_CALL_MODE=bridge, small sites) needs 2 slots, more
        than the non-emergency share: it is taken only on an idle worker, and a 911 arriving
        meanwhile still finds the ingress slot and goes to the front (302 with its PIDF-LO)."""
        return held == 0

    def can_hold_normal(self, held: int, slots: int) -> bool:
        """A non-emergency call holding `slots` must leave one bridge's worth free."""
        return held + slots <= (self.max_calls - self.ingress_reserve
                                - self.reserved_for_emergency)


@dataclass(slots=True)
class MediaBurstGuard:
    """Sliding-window limit on new calls on the real-media account."""

    limit: int = 20
    window_seconds: float = 0.6
    _times: deque[float] = field(default_factory=deque)

    def try_acquire(self, now: float) -> bool:
        while self._times and now - self._times[0] >= self.window_seconds:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True
