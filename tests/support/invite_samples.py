"""A sample emergency INVITE's parts: an Austin address, its PIDF-LO, the callback identity, SDP."""

from __future__ import annotations

from datetime import UTC, datetime

from router.call.emergency_invite import (
    CallbackIdentity,
)
from router.location.civic import CivicAddress
from router.pidf import to_pidf

ADDRESS = CivicAddress(country="US", state="TX", city="AUSTIN", street_name="LAMAR",
                       street_suffix="BLVD", prefix_directional="N", house_number="6500",
                       postal_code="78752", unit="STE 210")
PIDF = to_pidf(ADDRESS, entity="pres:+12025550123@voip.example.net",
               device_id="urn:uuid:6f1c2f58-8d4b-4b8e-9a36-0b7e1c6e9d11",
               timestamp=datetime(2025, 5, 1, 17, 4, 11, tzinfo=UTC))
CALLER = CallbackIdentity(display_name="ACME Widgets Reception", number="(202) 555-0123",
                          host="voip.example.net")
SDP = ("v=0\r\no=- 1 1 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n"
       "m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")
