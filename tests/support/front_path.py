"""The settings (E911_* overrides) of the front path: the worker answers an emergency call with a
302 and Kamailio sends the INVITE to the trunk itself."""

from __future__ import annotations

FRONT = {"E911_EMERGENCY_PATH": "front", "E911_KAMAILIO_CHILDREN": "1"}
"""One UDP receiver: with several, a trunk's 180 and 200 sent back to back can be relayed to
the caller in the opposite order (each receiver takes one; RFC 3261 lets a UA ignore the late
180, SIPp's strict scenario does not)."""

NG911 = {"E911_EMERGENCY_REQUEST_URI": "sos", "E911_PROVIDER_NAME": "Example Voice Inc",
         "E911_PROVIDER_CONTACT": "sip:+12025550100@noc.example.net"}
"""The NG911 form (NENA i3 ESInet trunks): urn:service:sos and RFC 7852 additional data."""
