"""The NG911 form on the front path (issue 18 deliverable 4): what kamailio.cfg.tmpl's
`{{sos_form_on}}` and `{{sos_form_blocks}}` holes hold. Pure.

A located 911 in the NG911 form (urn:service:sos, PIDF-LO and three RFC 7852 blocks) is about
4 KB: more than the pjsua2 wheel builds (4,000 bytes, router/call/size.py), so the worker hands
it to the front in its usual 302, which cannot grow either (SEND_BUDGET_BYTES). Kamailio
builds the blocks itself: ProviderInfo and ServiceInfo are the same for every call and are
rendered here into the configuration, by the same builder the bridge uses
(`router.call.additional_data`); SubscriberInfo takes the display name and callback number from the
X-E911-PAI value Kamailio already checked (letters, digits and spaces; +1 and 10 digits: no
XML escaping needed); each block's DataProviderReference is the call's X-E911-Call-Ref at our
Content-ID domain, as on the bridge. The 302 carries nothing new.
"""

from __future__ import annotations

from router.call.additional_data import Block, ProviderIdentity, additional_data_blocks

_REF = "E911NGREF"
"""Stands for the per-call reference in the rendered text; replaced by `$var(ng_ref)`."""
_NAME = "E911NGNAME"
_NUMBER = "+19995550100"
"""A well-formed E.164 stand-in for the callback number (the builder checks it)."""


def _cfg_literal(text: str) -> str:
    """A Kamailio string constant: `"` and `\\` escaped; no CR/LF/`$` can occur here (our
    XML is on one line; `$` would be read as a variable in a format string)."""
    if any(c in text for c in "\r\n$"):
        raise ValueError("the NG911 blocks cannot be written into kamailio.cfg")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pieces(xml: str, *markers: str) -> list[str]:
    """`xml` split at each marker in turn (each must occur exactly once)."""
    pieces = []
    rest = xml
    for marker in markers:
        if rest.count(marker) != 1:
            raise ValueError(f"marker {marker} not found once in a block")
        head, rest = rest.split(marker)
        pieces.append(head)
    return [*pieces, rest]


def ng911_values(provider: ProviderIdentity | None, cid_domain: str) -> dict[str, str]:
    """The template values: `sos_form_on` (a condition) and `sos_form_blocks` (cfg statements that
    set `$var(ng_pi)`, `$var(ng_svc)`, `$var(ng_sub)` from `$var(ng_ref)`, `$var(ng_name)`
    and `$var(ng_number)`)."""
    if provider is None:
        return {"sos_form_on": "0 == 1", "sos_form_blocks": "\t# E911_EMERGENCY_REQUEST_URI=trunk"}
    blocks = {b.block: b.xml.decode("utf-8") for b in additional_data_blocks(
        provider, reference_domain=cid_domain, token=_REF, display_name=_NAME,
        callback=_NUMBER)}
    ref = f"{_REF}@{cid_domain}"
    lines = []
    for block, var in ((Block.PROVIDER_INFO, "ng_pi"), (Block.SERVICE_INFO, "ng_svc")):
        head, tail = _pieces(blocks[block], ref)
        lines.append(f"$var({var}) = {_cfg_literal(head)} + $var(ng_ref) + {_cfg_literal(tail)};")
    head, middle, between, tail = _pieces(blocks[Block.SUBSCRIBER_INFO], ref, _NAME,
                                          f"tel:{_NUMBER}")
    lines.append(f"$var(ng_sub) = {_cfg_literal(head)} + $var(ng_ref) + {_cfg_literal(middle)}"
                 f" + $var(ng_name) + {_cfg_literal(between)} + \"tel:\" + $var(ng_number)"
                 f" + {_cfg_literal(tail)};")
    return {"sos_form_on": "1 == 1", "sos_form_blocks": "\n".join(f"\t{line}" for line in lines)}
