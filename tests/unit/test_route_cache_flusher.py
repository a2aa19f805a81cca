"""RouteCacheFlusher (router/kamailio/cache.py): when it empties the front's route cache.

Pure logic with a counter and a recorder standing in for the store and kamcmd; the real thing
runs in tests/front/test_route_cache.py.
"""

from __future__ import annotations

from router.kamailio.cache import RouteCacheFlusher


class _Seq:
    def __init__(self) -> None:
        self.value = 5
        self.fail = False

    def __call__(self) -> int:
        if self.fail:
            raise ConnectionError("store down")
        return self.value


class _Flush:
    def __init__(self) -> None:
        self.calls = 0
        self.ok = True

    def __call__(self) -> bool:
        self.calls += 1
        return self.ok


def _flusher() -> tuple[RouteCacheFlusher, _Seq, _Flush]:
    seq, flush = _Seq(), _Flush()
    return RouteCacheFlusher(seq, flush, interval_seconds=0.25, settle_seconds=1.5), seq, flush


def test_first_poll_only_learns_the_sequence() -> None:
    flusher, _, flush = _flusher()
    assert flusher.poll_once(0.0) is False
    assert flusher.poll_once(0.25) is False
    assert flush.calls == 0


def test_a_change_flushes_at_once_and_again_after_the_settle_time() -> None:
    """The second flush clears what a worker on its old view refilled meanwhile."""
    flusher, seq, flush = _flusher()
    flusher.poll_once(0.0)
    seq.value = 6
    assert flusher.poll_once(0.25) is True
    assert flusher.poll_once(1.0) is False
    assert flusher.poll_once(1.75) is True
    assert flusher.poll_once(5.0) is False
    assert (flush.calls, flusher.flushes) == (2, 2)


def test_a_refused_flush_is_tried_again_next_round() -> None:
    flusher, seq, flush = _flusher()
    flusher.poll_once(0.0)
    seq.value = 6
    flush.ok = False
    assert flusher.poll_once(0.25) is False
    flush.ok = True
    assert flusher.poll_once(0.5) is True
    assert flush.calls == 2


def test_a_store_outage_is_survived_and_the_change_after_it_flushes() -> None:
    flusher, seq, flush = _flusher()
    flusher.poll_once(0.0)
    seq.fail = True
    assert flusher.poll_once(0.25) is False
    seq.fail, seq.value = False, 9
    assert flusher.poll_once(0.5) is True
    assert flush.calls == 1
