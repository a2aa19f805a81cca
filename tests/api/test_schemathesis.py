"""Schemathesis against the live API's OpenAPI document: no 5xx, and the document tells the
truth (status codes, content types, response bodies, Allow headers).

Two runs: the command-line run over every phase (positive and negative data), and a
negative-data fuzz of every parameter of every operation, `/v1/events` included, that also
checks each 4xx body against the documented error shape (issue 13, finding 8). A third test
sends arbitrary bytes in each request header the API reads, which schemathesis cannot
generate (it keeps header values printable).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api_server import ADMIN_TOKEN, ApiServer, assert_error_shape, raw_request

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance",
    "allow_header_conformance", "unsupported_method", "negative_data_rejection",
    "use_after_free", "ensure_resource_availability",
])


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(api: ApiServer, tmp_path: Path) -> None:
    """About a thousand generated requests (every phase, fixed seed) with an administrator
    token; `/v1/events` is left out because a stream never ends (tests/api/test_events.py
    covers it)."""
    done = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{api.url}/openapi.json",
         "--header", f"Authorization: Bearer {ADMIN_TOKEN}",
         "--checks", CHECKS, "--exclude-path", "/v1/events",
         "--max-examples", "15", "--seed", "911", "--workers", "1",
         "--request-timeout", "10"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts is not None, report[-3000:]
    generated, passed = map(int, counts.groups())
    assert generated == passed >= 500, report[-3000:]


NEGATIVE_EXAMPLES = 8
"""Negative cases per operation and engine: about 180 requests, 10-20 s an engine (the
test's timeout bounds a slow machine)."""
NEGATIVE_CHECKS = [not_a_server_error, negative_data_rejection, status_code_conformance,
                   content_type_conformance, response_schema_conformance]
BOUNDED = settings(max_examples=NEGATIVE_EXAMPLES, deadline=None, database=None,
                   derandomize=True, phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=list(HealthCheck))
"""Fixed seed (derandomize), no example database, no shrinking: bounded and repeatable."""


def _send(case: Case, base_url: str, session: requests.Session) -> int:
    """Send one generated case; check its answer; return the status.

    A 200 event stream never ends, so it is closed after its headers; everything else is
    read whole and checked by schemathesis (no 5xx, negative data refused, the status,
    content type and body the document promises) and against the error shape.
    """
    kwargs = case.as_transport_kwargs(base_url=base_url)
    response = session.request(**kwargs, stream=True, timeout=10)
    try:
        if response.status_code == 200 and response.headers.get(
                "content-type", "").startswith("text/event-stream"):
            return 200
        assert response.status_code < 500, case.as_curl_command(base_url=base_url)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/json", \
                case.as_curl_command(base_url=base_url)
            assert_error_shape(response.json())
        case.validate_response(response, checks=NEGATIVE_CHECKS, transport_kwargs=kwargs)
        return response.status_code
    finally:
        response.close()


def _fuzz_negative(operation: APIOperation, base_url: str,
                   session: requests.Session) -> list[int]:
    """Send `NEGATIVE_EXAMPLES` negative cases of `operation` (administrator token); return
    the statuses."""
    seen: list[int] = []

    @BOUNDED
    @given(case=operation.as_strategy(
        GenerationMode.NEGATIVE, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}))
    def fuzz(case: Case) -> None:
        seen.append(_send(case, base_url, session))

    fuzz()
    return seen


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_negative_data_for_every_parameter_is_4xx_in_the_error_shape(api: ApiServer) -> None:
    """Schemathesis's negative data (values breaking each parameter's type, pattern, bounds
    or enum; bodies breaking their schema) for every operation with parameters, the event
    stream's `Last-Event-ID` and `types` included: never a 5xx, every 4xx in the
    documented shape, and every answer as the OpenAPI document says."""
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    statuses: dict[str, list[int]] = {}
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            named = [p for p in operation.iter_parameters() if p.name != "Authorization"]
            if not named and not len(operation.body):
                continue  # nothing to make negative (GET /health, .../verify)
            statuses[operation.label] = _fuzz_negative(operation, api.url, session)
    assert "GET /v1/events" in statuses and "GET /v1/call-records" in statuses
    assert len(statuses) >= 22, sorted(statuses)
    sent = sum(len(s) for s in statuses.values())
    assert sent >= 22 * NEGATIVE_EXAMPLES * 0.8, statuses
    refused = sum(1 for s in statuses.values() for code in s if 400 <= code < 500)
    assert refused >= sent * 0.8, statuses


HEADER_BYTES = st.binary(min_size=0, max_size=300).filter(
    lambda b: b"\r" not in b and b"\n" not in b)
"""Any header value a client can put on the wire (CR and LF would end the header)."""

HEADER_TARGETS: dict[str, tuple[str, str, bytes]] = {
    "Authorization": ("GET", "/v1/users", b""),
    "Last-Event-ID": ("GET", "/v1/events", b""),
    "Content-Type": ("PUT", "/v1/users/1001", b'{"display_name": "Front Desk"}'),
    "Content-Length": ("PUT", "/v1/users/1001", b'{"display_name": "Front Desk"}'),
}
"""Each request header the API reads, with a request that reads it."""


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("header", sorted(HEADER_TARGETS))
def test_any_bytes_in_a_request_header_never_get_a_5xx(api: ApiServer, header: str) -> None:
    """Arbitrary bytes (NUL, controls, Latin-1 digits, invalid UTF-8) in Authorization,
    Last-Event-ID, Content-Type and Content-Length: a 2xx, or a 4xx in the error shape,
    whoever refused it (the application or the HTTP parser)."""
    method, target, body = HEADER_TARGETS[header]

    @settings(max_examples=30, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(value=HEADER_BYTES)
    @example(value=b"\xb2")  # Latin-1 "²": str.isdigit() but not int() (was a 500)
    @example(value="١٢".encode())
    @example(value=b"99999999999999999999")  # past 2**63 - 1 (ended the stream)
    @example(value=b"1\x00")
    def fuzz(value: bytes) -> None:
        response = raw_request(api.url, method, target, {header: value},
                               body if method != "GET" else None)
        assert response.status < 500, (value, response.body[:300])
        if response.status >= 400:
            assert response.content_type == "application/json", (value, response.body[:300])
            assert_error_shape(response.json())

    fuzz()
