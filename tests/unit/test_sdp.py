"""router/call/sdp.py: the SDP of a SIP message, and where its media goes."""

from __future__ import annotations

from router.call.sdp import media_address, sdp_body

OFFER = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
         "m=audio 6000 RTP/AVP 0 8\r\na=sendrecv\r\n")


def _message(content_type: str, body: str, *, compact: bool = False) -> str:
    name = "c" if compact else "Content-Type"
    return (f"INVITE sip:911@psap SIP/2.0\r\nCall-ID: x\r\n{name}: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}")


def test_sdp_body_of_an_sdp_message_long_or_compact_header() -> None:
    assert sdp_body(_message("application/sdp", OFFER)) == OFFER
    assert sdp_body(_message("Application/SDP; charset=x", OFFER, compact=True)) == OFFER


def test_no_sdp_body_for_other_types_or_no_body() -> None:
    assert sdp_body(_message("multipart/mixed;boundary=b", "--b--")) == ""
    assert sdp_body("ACK sip:911@psap SIP/2.0\r\nCall-ID: x\r\n") == ""
    assert sdp_body("BYE sip:911@psap SIP/2.0\r\nCall-ID: x\r\n\r\n") == ""


def test_media_address_ignores_direction_and_codec_narrowing() -> None:
    """Hold (sendonly) or an answer choosing one codec sends media to the same place."""
    held = OFFER.replace("a=sendrecv", "a=sendonly").replace("RTP/AVP 0 8", "RTP/AVP 0")
    assert media_address(held) == media_address(OFFER) == (
        "c=IN IP4 127.0.0.1", "m=audio 6000")


def test_media_address_changes_with_the_port_or_the_address() -> None:
    assert media_address(OFFER.replace("6000", "6002")) != media_address(OFFER)
    assert media_address(OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 127.0.0.2")) != \
        media_address(OFFER)
