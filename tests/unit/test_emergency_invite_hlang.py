"""router.hlang: the caller's language as RFC 8373 hlang-send/hlang-recv in the SDP."""

from __future__ import annotations

import pytest

from router.hlang import add_hlang, hlang_sdp_lines, language_tag
from router.language import Language

OFFER = ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
         "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


@pytest.mark.parametrize("language", ["en", "es", "fr"])
def test_hlang_lines_for_each_supported_language(language: str) -> None:
    """One tag, send and receive: a=hlang-send:<tag>, a=hlang-recv:<tag>."""
    assert hlang_sdp_lines(language) == [f"a=hlang-send:{language}", f"a=hlang-recv:{language}"]


def test_language_enum_members_are_accepted() -> None:
    """router.language.Language.ES gives the tag "es", not "Language.ES"."""
    assert hlang_sdp_lines(Language.ES) == ["a=hlang-send:es", "a=hlang-recv:es"]


@pytest.mark.parametrize(("given", "canonical"), [
    ("EN", "en"), ("fr-ca", "fr-CA"), ("zh-hant-tw", "zh-Hant-TW"), (" es ", "es")])
def test_language_tags_get_bcp47_case(given: str, canonical: str) -> None:
    """Primary subtag lower, region upper, script title case."""
    assert language_tag(given) == canonical


@pytest.mark.parametrize("bad", ["", "e", "english language", "en\r\na=evil", "en_US", "*"])
def test_malformed_language_tags_are_refused(bad: str) -> None:
    """Anything that is not a BCP 47 tag (including SDP injection) raises ValueError."""
    with pytest.raises(ValueError, match="BCP 47"):
        hlang_sdp_lines(bad)


def test_add_hlang_appends_to_the_end_of_the_audio_section() -> None:
    """The two lines go after the audio section's last attribute, CRLF kept."""
    assert add_hlang(OFFER, "es") == OFFER + "a=hlang-send:es\r\na=hlang-recv:es\r\n"


def test_add_hlang_is_idempotent() -> None:
    """Applying it twice gives the same SDP as once."""
    once = add_hlang(OFFER, "fr")
    assert add_hlang(once, "fr") == once


def test_add_hlang_replaces_a_different_language_already_present() -> None:
    """Existing hlang lines in the audio section give way to the configured language."""
    offered = OFFER.replace(
        "a=sendrecv\r\n", "a=hlang-send:de\r\na=sendrecv\r\na=hlang-recv:de\r\n")
    assert add_hlang(offered, "en") == OFFER + "a=hlang-send:en\r\na=hlang-recv:en\r\n"


def test_only_active_audio_sections_get_the_lines() -> None:
    """Video and a disabled (port 0) audio stream are left alone; LF line ends kept."""
    sdp = ("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\n"
           "m=audio 0 RTP/AVP 0\n"
           "m=audio 4000 RTP/AVP 0\nc=IN IP4 192.0.2.1\n"
           "m=video 5000 RTP/AVP 96\na=rtpmap:96 H264/90000\n")
    assert add_hlang(sdp, "en") == (
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\n"
        "m=audio 0 RTP/AVP 0\n"
        "m=audio 4000 RTP/AVP 0\nc=IN IP4 192.0.2.1\na=hlang-send:en\na=hlang-recv:en\n"
        "m=video 5000 RTP/AVP 96\na=rtpmap:96 H264/90000\n")


def test_sdp_without_audio_is_unchanged() -> None:
    """No active audio m= line: the SDP comes back byte for byte."""
    sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=text 0 RTP/AVP 98\r\n"
    assert add_hlang(sdp, "en") == sdp


def test_missing_final_line_end_is_added() -> None:
    """An SDP whose last line lacks CRLF gets one (RFC 4566: every line ends in CRLF)."""
    assert add_hlang(OFFER.removesuffix("\r\n"), "en") == (
        OFFER + "a=hlang-send:en\r\na=hlang-recv:en\r\n")
