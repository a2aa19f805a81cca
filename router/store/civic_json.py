"""A `CivicAddress` as the JSON the store keeps (addresses, account defaults, networks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from router.location.civic import CivicAddress


def civic_to_json(civic: CivicAddress) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(civic):
        value = getattr(civic, f.name)
        if f.name == "extras":
            if value:
                out["extras"] = [list(pair) for pair in value]
        elif value:
            out[f.name] = value
    return out


_CIVIC_FIELDS = frozenset(f.name for f in fields(CivicAddress))


def civic_from_json(data: Mapping[str, Any]) -> CivicAddress:
    """Rebuild a `CivicAddress`; keys a later version dropped are ignored."""
    values = {k: v for k, v in data.items() if k in _CIVIC_FIELDS}
    if "extras" in values:
        values["extras"] = tuple((str(a), str(b)) for a, b in values["extras"])
    return CivicAddress(**values)
