"""Malformed headers and query parameters (issue 13, finding 8): every one is a 4xx in the
documented error shape, never a 500 and never a stream that dies after its headers.

Values are sent as raw bytes where httpx would refuse or re-encode them (a Latin-1 "²" in a
header, a NUL), so the server sees exactly what a hostile client sends.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.support.api_server import ApiServer, RawResponse, assert_error_shape, raw_request
from tests.support.event_stream import Stream

RECORDS = "/v1/call-records"
MAX_SEQ = 2**63 - 1
"""The largest `events.seq` either engine stores (SQLite INTEGER, PostgreSQL BIGINT)."""


def raw_get(api: ApiServer, target: str, headers: dict[str, bytes]) -> RawResponse:
    """GET `target` with these header values, byte for byte (administrator token)."""
    return raw_request(api.url, "GET", target, headers)


def error_fields(response: httpx.Response) -> list[tuple[str, str]]:
    """The (field, code) pairs of an error response, after checking its shape."""
    assert response.headers["content-type"] == "application/json", response.text
    body = response.json()
    assert_error_shape(body)
    return [(f["field"], f["code"]) for f in body["error"]["fields"]]


@pytest.mark.parametrize(("name", "value", "code"), [
    ("to", "9999-12-31T23:59:59-23:59", "out_of_range"),
    ("from", "0001-01-01T00:00:00+01:00", "out_of_range"),
    ("from", "0001-01-01T00:00:00+00:01", "out_of_range"),
    ("to", "9999-12-31T23:59:59.999999-00:01", "out_of_range"),
    ("from", "2026-02-30T00:00:00Z", "invalid_datetime"),
    ("from", "2026-03-01T24:00:00Z", "invalid_datetime"),
    ("to", "2026-03-01T00:00:00+24:00", "invalid_datetime"),
    ("from", "٢٠٢٦-٠٣-٠١T00:00:00Z", "string_pattern_mismatch"),
    ("to", "２０２６-03-01T00:00:00Z", "string_pattern_mismatch"),
    ("from", "2026-03-01T00:00:00Z\x00", "string_pattern_mismatch"),
    ("to", "2026-03-01T00:00:00" + "0" * 10_000 + "Z", "string_pattern_mismatch"),
    ("limit", "99999999999999999999999999", "less_than_equal"),
    ("limit", "²", "int_parsing"),
    ("limit", "١٠", "int_parsing"),
    ("limit", "1\x00", "int_parsing"),
])
def test_call_record_times_out_of_range_or_malformed_are_400(
    admin: httpx.Client, name: str, value: str, code: str,
) -> None:
    """Datetimes whose UTC instant falls outside years 1-9999, impossible dates, non-ASCII
    digits, NUL and over-long values answer 400 naming the parameter (they were 500s)."""
    response = admin.get(RECORDS, params={name: value})
    assert response.status_code == 400, response.text
    assert error_fields(response) == [(name, code)]
    assert response.json()["error"]["type"] == "invalid_request"


@pytest.mark.parametrize("query", [
    {"from": "0001-01-01T00:00:00+00:00"},
    {"from": "0001-01-01T00:00:00-01:00"},
    {"to": "9999-12-31T23:59:59.999999+00:00"},
    {"to": "9999-12-31T23:59:59+23:59"},
    {"from": "0001-01-01T00:00Z", "to": "9999-12-31T23:59Z", "limit": "1000"},
])
def test_call_record_times_at_the_limits_are_answered(
    admin: httpx.Client, query: dict[str, str],
) -> None:
    """The extreme instants that do exist in UTC are ordinary bounds: 200, no records."""
    response = admin.get(RECORDS, params=query)
    assert response.status_code == 200, response.text
    assert response.json() == {"records": []}


@pytest.mark.parametrize(("value", "code"), [
    (b"\xb2", "string_pattern_mismatch"),              # Latin-1 superscript two: isdigit()
    (b"\xb9\xb2\xb3", "string_pattern_mismatch"),
    ("١٢".encode(), "string_pattern_mismatch"),
    (b"99999999999999999999", "string_pattern_mismatch"),  # 20 digits: over 2**63 - 1
    (str(MAX_SEQ + 1).encode(), "out_of_range"),
    (b"-1", "string_pattern_mismatch"),
    (b"+1", "string_pattern_mismatch"),
    (b"0x10", "string_pattern_mismatch"),
    (b"1" * 4000, "string_pattern_mismatch"),
])
def test_malformed_last_event_id_is_400(api: ApiServer, value: bytes, code: str) -> None:
    """A Last-Event-ID that is not a stored sequence number (non-ASCII digits, signs, past
    2**63 - 1, kilobytes long) answers 400 before the stream starts."""
    response = raw_get(api, "/v1/events", {"Last-Event-ID": value})
    assert (response.status, response.content_type) == (400, "application/json"), \
        response.body[:300]
    body = response.json()
    assert_error_shape(body)
    assert [(f["field"], f["code"]) for f in body["error"]["fields"]] == [
        ("Last-Event-ID", code)]


def test_largest_last_event_id_keeps_the_stream_open(admin: httpx.Client) -> None:
    """Last-Event-ID 2**63 - 1 is a valid (future) position: the stream polls on and sends
    its keep-alive instead of ending with an OverflowError after the headers."""
    with admin.stream("GET", "/v1/events", headers={"Last-Event-ID": str(MAX_SEQ)}) as response:
        assert response.status_code == 200
        events = Stream(response)
        assert events.preamble == {"retry": "2000", "comment": "connected"}
        assert events.next_frame() == {"comment": "keepalive"}


@pytest.mark.parametrize(("target", "headers"), [
    ("/v1/events", {"Last-Event-ID": b"1\x00"}),
    ("/v1/events", {"Last-Event-ID": b"\x7f"}),
    ("/v1/users", {"X-Anything": b"a\x00b"}),
])
def test_headers_the_http_parser_refuses_answer_in_the_error_shape(
    api: ApiServer, target: str, headers: dict[str, bytes],
) -> None:
    """NUL and other control bytes in a header value (RFC 9110 section 5.5) are refused by
    the HTTP parser itself: still 400 in the JSON error shape, not uvicorn's plain-text
    page."""
    response = raw_get(api, target, headers)
    assert (response.status, response.content_type) == (400, "application/json"), \
        response.body[:300]
    body = response.json()
    assert_error_shape(body)
    assert body["error"]["type"] == "invalid_request"


@pytest.mark.parametrize("value", [
    b"Bearer \xb2\xb3", b"Bearer " + "é".encode(), b"Bearer " + b"A" * 8000, b"\xff\xfe",
    b"Bearer", b"Basic YWxhZGRpbjpvcGVuc2VzYW1l",
])
def test_malformed_authorization_is_401_in_the_error_shape(api: ApiServer,
                                                           value: bytes) -> None:
    """Garbage, non-ASCII and oversized bearer tokens are 401 with WWW-Authenticate's shape
    of body, never a 500."""
    response = raw_get(api, "/v1/users", {"Authorization": value})
    assert response.status == 401, response.body[:300]
    assert_error_shape(response.json())
    assert response.json()["error"]["type"] == "unauthenticated"


@pytest.mark.parametrize(("target", "field"), [
    ("/v1/users?limit=" + quote("²"), "limit"),
    ("/v1/users?starting_after=" + quote("\x00"), "starting_after"),
    ("/v1/users?starting_after=" + "a" * 5000, "starting_after"),
    ("/v1/networks?limit=" + "9" * 400, "limit"),
    ("/v1/users/1001/location?ip=" + quote("127.0.0.1\x00"), "ip"),
    ("/v1/users/1001/location?ip=" + quote("١٢٧.0.0.1"), "ip"),
    ("/v1/events?types=" + quote("network.changed\x00"), "types"),
    ("/v1/events?types=" + "x" * 5000, "types"),
    ("/v1/users/" + quote("10\x0001"), "user"),
    ("/v1/users/" + "1" * 5000, "user"),
    ("/v1/call-records/" + quote("rec_\x00"), "record_id"),
    ("/v1/emergency-calls/" + quote("²"), "call_ref"),
    ("/v1/networks/" + quote("net_\u202e"), "network_id"),
])
def test_malformed_query_and_path_values_are_400_naming_them(
    api: ApiServer, target: str, field: str,
) -> None:
    """NUL, non-ASCII digits, bidi controls and over-long values in query and path
    parameters answer 400 with the parameter in `fields`."""
    response = raw_get(api, target, {})
    assert (response.status, response.content_type) == (400, "application/json"), \
        response.body[:300]
    body = response.json()
    assert_error_shape(body)
    assert [f["field"] for f in body["error"]["fields"]] == [field]
