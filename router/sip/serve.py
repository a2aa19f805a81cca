"""Run one worker in the foreground until SIGTERM/SIGINT, then drain and exit 0."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from router.sip.worker import Worker


def serve(worker: Worker) -> int:
    stop = threading.Event()

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    worker.start()
    try:
        worker.run(stop.is_set)
    finally:
        worker.stop()
    return 0
