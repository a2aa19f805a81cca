"""OPTIONS probing of trunks against real SIPp: 200 is up, 503 and silence are down."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from router.call.plan import Purpose
from router.metrics import REGISTRY
from router.trunk_probe import (
    TrunkProber,
    is_up,
    options_request,
    parse_trunk,
    response_status,
    trunks_of,
)
from tests.support.ports import free_port
from tests.support.sipp import start_uas

pytestmark = pytest.mark.scenario


def _up(uri: str, purpose: str) -> float | None:
    return REGISTRY.get_sample_value("e911_trunk_up", {"trunk": uri, "purpose": purpose})


def test_trunk_uri_forms_are_parsed() -> None:
    """Host, port (default 5060) and transport come from the configured URI."""
    assert parse_trunk("sip:127.0.0.1:5071", Purpose.PSAP).port == 5071
    tcp = parse_trunk("sip:911@psap.example;transport=tcp", Purpose.PSAP)
    assert (tcp.host, tcp.port, tcp.transport) == ("psap.example", 5060, "tcp")
    assert parse_trunk("sip:[::1]:5080", Purpose.TEST).host == "::1"


def test_trunks_of_lists_each_trunk_once_per_purpose() -> None:
    """The test list defaults to the PSAP list: the same URI appears under both purposes."""
    trunks = trunks_of(("sip:a:1",), ("sip:b:2",), ("sip:a:1",), "sip:c:3")
    assert [(t.uri, t.purpose.value) for t in trunks] == [
        ("sip:a:1", "psap"), ("sip:b:2", "sorting_center"), ("sip:a:1", "test"),
        ("sip:c:3", "outbound")]


def test_options_request_and_response_parsing() -> None:
    """RFC 3261 s11.1 request line and headers; a response is matched by its Call-ID."""
    trunk = parse_trunk("sip:127.0.0.1:5071", Purpose.PSAP)
    request = options_request(trunk, local_host="127.0.0.1", local_port=4000, call_id="c1",
                              branch="z9hG4bKx", tag="t")
    assert request.startswith(b"OPTIONS sip:127.0.0.1:5071 SIP/2.0\r\n")
    assert b"Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKx;rport\r\n" in request
    assert request.endswith(b"Content-Length: 0\r\n\r\n")
    assert response_status(b"SIP/2.0 200 OK\r\ni: c1\r\n\r\n") == (200, "c1")
    assert response_status(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: c1\r\n\r\n") is None
    assert [is_up(s) for s in (200, 404, 405, 408, 503, 603)] == [
        True, True, True, False, False, False]


def test_probe_marks_answering_trunk_up_and_refusing_or_silent_trunks_down(
    tmp_path: Path
) -> None:
    """One round: the 200 trunk is up, the 503 trunk and a port nobody listens on are down;
    `e911_trunk_up` and the transition log events say the same."""
    answering = start_uas("uas-psap-answer-options-200", tmp_path)
    refusing = start_uas("uas-trunk-options-503", tmp_path)
    silent = f"sip:127.0.0.1:{free_port()}"
    try:
        prober = TrunkProber(
            trunks_of((answering.uri, refusing.uri), (silent,), (), answering.uri),
            bind_host="127.0.0.1", timeout_seconds=1.0)
        with capture_logs() as logs:
            results = prober.probe_once()
    finally:
        answering.stop()
        refusing.stop()
    assert {(r.trunk.uri, r.trunk.purpose.value): r.status for r in results} == {
        (answering.uri, "psap"): 200, (refusing.uri, "psap"): 503,
        (silent, "sorting_center"): 0, (answering.uri, "outbound"): 200}
    assert _up(answering.uri, "psap") == 1
    assert _up(refusing.uri, "psap") == 0
    assert _up(silent, "sorting_center") == 0
    assert sorted((e["event"], e["trunk"], e["status"]) for e in logs) == sorted([
        ("e911.trunk.up", answering.uri, 200), ("e911.trunk.down", refusing.uri, 503),
        ("e911.trunk.down", silent, 0), ("e911.trunk.up", answering.uri, 200)])
