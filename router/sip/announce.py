"""The announcement for a normal call from a caller with no registered emergency address:

    early:  183 Session Progress (SDP) -> prompt -> 403 + Reason (RFC 3326) "Emergency address
            not registered"  (RFC 3960 early media: the caller hears it before any answer)
    answer: 200 OK -> prompt -> BYE

It runs on the real-media account (the only one whose RTP reaches the caller). The prompt's
end is our own timer from the WAV's length, so nothing depends on a player callback arriving
on another thread.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pjsua2 as pj
from structlog.typing import FilteringBoundLogger

from router.call.modes import AnnounceMode
from router.call.outcome import CallOutcome, Result
from router.call.plan import CallPlan
from router.call.prompt import PROMPT_NAME, Prompt
from router.sip.control import Services
from router.sip.legs import Leg, LegState, call_param

MEDIA_WAIT_SECONDS = 3.0
"""Give up waiting for the caller's media to start after this and send the final answer."""


class Announcement:
    def __init__(self, ref: int, services: Services, plan: CallPlan, caller: Leg,
                 prompt: Prompt, *, log: FilteringBoundLogger, call_ref: str = "",
                 invite_at: float | None = None) -> None:
        self.ref = ref
        self._log = log
        """The call's own logger (call_ref, call_id, call_class, account, port)."""
        self._call_ref = call_ref or str(ref)
        self._invite_at = services.now() if invite_at is None else invite_at
        """When the INVITE was received: `e911_call_setup_seconds` starts here."""
        self._final_at = 0.0
        """When the first final answer went upstream (200 in answer mode, 403 in early)."""
        self._svc = services
        self._plan = plan
        self._caller = caller
        self._prompt = prompt
        self._player: pj.AudioMediaPlayer | None = None
        self._playing = False
        self._final_sent = False
        self._ended = False

    @property
    def done(self) -> bool:
        return self._ended and self._caller.ended

    def start(self) -> None:
        status = 183 if self._plan.announce_mode is AnnounceMode.EARLY else 200
        if status == 200:
            self._final_at = self._svc.now()
        try:
            self._caller.answer(call_param(status))
        except pj.Error as exc:
            self._log.info("e911.announce.answer_failed", error=exc.reason)
            self._final()
            return
        self._svc.schedule(self.ref, MEDIA_WAIT_SECONDS, "media-timeout")

    def on_media(self, leg: Leg) -> None:
        if self._playing or self._final_sent:
            return
        audio = leg.first_audio()
        if audio is None:
            return
        player = pj.AudioMediaPlayer()
        try:
            player.createPlayer(str(self._prompt.path), pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(audio)
        except pj.Error as exc:
            self._log.info("e911.announce.player_failed", error=exc.reason)
            self._svc.defer(self.ref, "prompt-done")
            return
        self._player = player
        self._playing = True
        self._log.info("e911.announce.playing", language=self._plan.language.value)
        self._svc.schedule(self.ref, self._prompt.seconds + 0.3, "prompt-done")

    def on_state(self, leg: Leg, state: LegState, status: int) -> None:
        if state is LegState.DISCONNECTED:
            self._release_player()
            if not self._ended:
                result = Result.ANNOUNCED if self._final_sent else Result.CANCELLED
                self._finish(result, self._sent_status() if self._final_sent else status or 487)

    def on_timer(self, tag: str) -> None:
        if tag == "prompt-done" or (tag == "media-timeout" and not self._playing):
            self._final()

    def _sent_status(self) -> int:
        return self._plan.status if self._plan.announce_mode is AnnounceMode.EARLY else 200

    def _final(self) -> None:
        if self._final_sent or self._caller.ended:
            return
        self._final_sent = True
        self._release_player()
        try:
            if self._plan.announce_mode is AnnounceMode.EARLY:
                # Noted first: the final answer disconnects the leg inside `answer()`.
                self._final_at = self._svc.now()
                # RFC 3326 s2: the Reason header says why, for people reading traces.
                reason = f'SIP;cause={self._plan.status};text="{self._plan.reason}"'
                self._caller.answer(call_param(self._plan.status, headers=[("Reason", reason)]))
            else:
                self._caller.hangup(call_param())
        except pj.Error as exc:
            self._log.info("e911.announce.final_failed", error=exc.reason)

    def _release_player(self) -> None:
        player, self._player = self._player, None
        if player is not None:
            # Destroyed here, on the SIP thread; a leaked player is gone for good (32 a process).
            del player

    def _finish(self, result: Result, status: int) -> None:
        self._ended = True
        now = self._svc.now()
        final_at = self._final_at or now
        self._svc.finished(self.ref, CallOutcome(
            call_ref=self._call_ref,
            call_class=self._plan.call_class,
            action=self._plan.action,
            result=result,
            status=status,
            setup_seconds=final_at - self._invite_at,
            duration_seconds=now - final_at,
        ))


def load_prompts(prompts_dir: Path, languages: tuple[str, ...]) -> dict[str, Prompt]:
    """`<dir>/<lang>/<PROMPT_NAME>` for each language found (read at startup)."""
    prompts: dict[str, Prompt] = {}
    for language in languages:
        path = prompts_dir / language / PROMPT_NAME
        if not path.is_file():
            continue
        with wave.open(str(path), "rb") as wav:
            seconds = wav.getnframes() / float(wav.getframerate())
        prompts[language] = Prompt(path.resolve(), seconds)
    return prompts
