"""RFC 7852 additional data ("ADR" blocks) for an NG911 (NENA i3) emergency INVITE. Pure.

Three blocks, each an XML document sent by value as its own body part and named from a
`Call-Info: <cid:...>;purpose=EmergencyCallData.<Block>` header (RFC 7852 s4.1, s6.1):

    ProviderInfo    who we are: the data provider's name, ID, type and a contact URI
    ServiceInfo     the service the caller used: VoIP, business, mobility unknown
    SubscriberInfo  the caller as the PSAP got it: display name and callback number (xCard,
                    RFC 6351), the same identity as the P-Asserted-Identity; only when a
                    callback number is known (the INVITE then has no PAI either)

DeviceInfo is not sent: all the router knows of the device is a network binding, and a block
that says nothing true about the device would only mislead a call taker (RFC 7852 s4.2 lists
its fields: device class, manufacturer, model, serial, ...; we have none of them).

Element names and order follow the RFC 7852 s4 prose and its examples as far as we could read
them; the RFC's own XSDs (s8) are not in this repository yet (router/schemas/PROVENANCE.md,
"Not obtained"), so tests/support/pidf_check.py checks these documents with a rule layer, not
a schema.
Registry values (TypeOfProvider, ServiceType, ServiceEnvironment, ServiceMobility) are the
IANA "Emergency Call Additional Data" registry values RFC 7852 s11 creates [M: from memory,
to check against the registry before relying on them].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from lxml import etree

from router.pidf import clean_text

__all__ = [
    "CONTACT_URI",
    "NS_PROVIDER",
    "NS_SERVICE",
    "NS_SUBSCRIBER",
    "NS_VCARD",
    "AdditionalDataBlock",
    "Block",
    "ProviderIdentity",
    "additional_data_blocks",
]

NS_PROVIDER: Final = "urn:ietf:params:xml:ns:EmergencyCallData:ProviderInfo"
NS_SERVICE: Final = "urn:ietf:params:xml:ns:EmergencyCallData:ServiceInfo"
NS_SUBSCRIBER: Final = "urn:ietf:params:xml:ns:EmergencyCallData:SubscriberInfo"
NS_VCARD: Final = "urn:ietf:params:xml:ns:vcard-4.0"
"""xCard (RFC 6351), the format RFC 7852 uses for contact data."""

CONTACT_URI: Final = re.compile(r"(?:sips?:[^\s<>\"\\$]+|tel:\+?[0-9A-Fa-f*#().\-;=]+)")
"""What a ProviderInfo ContactURI may be here: a sip:, sips: or tel: URI (RFC 7852 s4.1),
without `\\` or `$` (Kamailio would read `$` in the rendered block as a variable)."""


class Block(StrEnum):
    """A block's name: its Call-Info purpose is `EmergencyCallData.<name>` and its media type
    `application/EmergencyCallData.<name>+xml` (RFC 7852 s4, s11.1)."""

    PROVIDER_INFO = "ProviderInfo"
    SERVICE_INFO = "ServiceInfo"
    SUBSCRIBER_INFO = "SubscriberInfo"

    @property
    def short(self) -> str:
        """A short name for Content-IDs ("pi", "svc", "sub")."""
        return {Block.PROVIDER_INFO: "pi", Block.SERVICE_INFO: "svc",
                Block.SUBSCRIBER_INFO: "sub"}[self]

    @property
    def purpose(self) -> str:
        return f"EmergencyCallData.{self.value}"

    @property
    def media_subtype(self) -> str:
        return f"EmergencyCallData.{self.value}+xml"

    @property
    def namespace(self) -> str:
        return {Block.PROVIDER_INFO: NS_PROVIDER, Block.SERVICE_INFO: NS_SERVICE,
                Block.SUBSCRIBER_INFO: NS_SUBSCRIBER}[self]


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """The operator of this router as a data provider (E911_PROVIDER_* settings)."""

    name: str
    """DataProviderString: the name a call taker sees."""
    contact_uri: str
    """ContactURI: a sip:/sips:/tel: URI the PSAP can call about the call (a NOC line)."""
    provider_id: str = ""
    """ProviderID, e.g. the NENA company ID; empty when none was issued."""
    id_series: str = "NENA"
    """ProviderIDSeries: who issued the ProviderID."""
    provider_type: str = "Telecom Provider"
    """TypeOfProvider (registry value)."""


@dataclass(frozen=True, slots=True)
class AdditionalDataBlock:
    """One block, ready to become a body part."""

    block: Block
    xml: bytes


def _element(parent: etree._Element, ns: str, name: str, text: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ns}}}{name}")
    child.text = text
    return child


def _serialize(root: etree._Element) -> bytes:
    # No XML declaration (UTF-8 is XML's default, XML 1.0 s4.3.3): every byte counts, the
    # wheel builds no message above 4,000 bytes (router/call/size.py).
    return bytes(etree.tostring(root, encoding="UTF-8"))


def _provider_info(provider: ProviderIdentity, reference: str) -> bytes:
    ns = NS_PROVIDER
    root = etree.Element(f"{{{ns}}}EmergencyCallData.ProviderInfo", nsmap={None: ns})
    _element(root, ns, "DataProviderReference", reference)
    _element(root, ns, "DataProviderString", clean_text(provider.name))
    _element(root, ns, "ProviderID", clean_text(provider.provider_id) or "unknown")
    _element(root, ns, "ProviderIDSeries", clean_text(provider.id_series))
    _element(root, ns, "TypeOfProvider", clean_text(provider.provider_type))
    _element(root, ns, "ContactURI", provider.contact_uri)
    return _serialize(root)


def _service_info(reference: str) -> bytes:
    ns = NS_SERVICE
    root = etree.Element(f"{{{ns}}}EmergencyCallData.ServiceInfo", nsmap={None: ns})
    _element(root, ns, "DataProviderReference", reference)
    # The callers are businesses' agents and phones (contact-center seats, PBX extensions).
    _element(root, ns, "ServiceEnvironment", "Business")
    _element(root, ns, "ServiceType", "VOIP")
    # A softphone may move; its registered address is the binding's, not the device's own.
    _element(root, ns, "ServiceMobility", "Unknown")
    return _serialize(root)


def _subscriber_info(reference: str, display_name: str, callback: str) -> bytes:
    ns = NS_SUBSCRIBER
    root = etree.Element(f"{{{ns}}}EmergencyCallData.SubscriberInfo",
                         nsmap={None: ns, "xc": NS_VCARD})
    # RFC 7852 s4.4: privacyRequested="false": nothing here is withheld from the PSAP.
    root.set("privacyRequested", "false")
    _element(root, ns, "DataProviderReference", reference)
    data = etree.SubElement(root, f"{{{ns}}}SubscriberData")
    vcard = etree.SubElement(etree.SubElement(data, f"{{{NS_VCARD}}}vcards"),
                             f"{{{NS_VCARD}}}vcard")
    fn = etree.SubElement(vcard, f"{{{NS_VCARD}}}fn")
    _element(fn, NS_VCARD, "text", display_name or callback)
    tel = etree.SubElement(vcard, f"{{{NS_VCARD}}}tel")
    # RFC 6350 s6.4.1 / RFC 3966: the callback number as a tel: URI.
    _element(tel, NS_VCARD, "uri", f"tel:{callback}")
    return _serialize(root)


def additional_data_blocks(
    provider: ProviderIdentity, *, reference_domain: str, token: str,
    display_name: str, callback: str | None,
) -> tuple[AdditionalDataBlock, ...]:
    """The ProviderInfo, ServiceInfo and SubscriberInfo blocks of one call.

    `callback` is the E.164 callback number (+1NPANXXXXXX), `display_name` the name the
    P-Asserted-Identity carries (already reduced by `sipsafe.display_name`). With no callback
    number (None) SubscriberInfo is left out: its xCard would have no tel to give, and a
    name alone (an account's, not necessarily the caller's) would tell the call taker
    nothing they can act on; ProviderInfo and ServiceInfo say only true things about us and
    the service, which do not depend on the number (RFC 7852 s4.1, s4.2). Every block names
    the same DataProviderReference, `<token>@<reference_domain>` (RFC 7852 s4.1.1: unique,
    the same for every block one provider adds). Raises ValueError for a contact URI that is
    no sip:/sips:/tel: URI or a callback that is no E.164 number.
    """
    if CONTACT_URI.fullmatch(provider.contact_uri) is None:
        raise ValueError("provider contact must be a sip:, sips: or tel: URI")
    if callback is not None and re.fullmatch(r"\+[1-9][0-9]{6,14}", callback) is None:
        raise ValueError("callback must be an E.164 number")
    reference = f"{token}@{reference_domain}"
    blocks = (
        AdditionalDataBlock(Block.PROVIDER_INFO, _provider_info(provider, reference)),
        AdditionalDataBlock(Block.SERVICE_INFO, _service_info(reference)),
    )
    if callback is None:
        return blocks
    return (*blocks, AdditionalDataBlock(Block.SUBSCRIBER_INFO,
                                         _subscriber_info(reference, display_name, callback)))
