"""The civic address: what a validated emergency address *is*, independent of how it is stored
or sent.

Field names are readable; each one documents the RFC 5139 / CLDXF element it maps to in a
PIDF-LO (`router/pidf.py` does the mapping). Values are stored the USPS Publication 28 way
(upper case, abbreviated street types and directionals: "E", "LARAMIE", "ST"); the PIDF
mapping spells them out where the US profile wants words.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace


@dataclass(frozen=True, slots=True)
class AddressInput:
    """What a user or administrator types (Talkdesk's fields). Nothing is trusted yet."""

    country: str = ""
    """ISO 3166-1 alpha-2: US or CA."""
    house_number: str = ""
    street: str = ""
    """Street line, e.g. "123 E Laramie St" minus the number, or "East Laramie Street"."""
    street2: str = ""
    """Suite, floor, room, building: kept for the dispatchable location."""
    city: str = ""
    state: str = ""
    """USPS state or Canada Post province code, or its full name."""
    postal_code: str = ""
    plus4: str = ""

    @classmethod
    def from_mapping(cls, data: dict[str, object]) -> AddressInput:
        """Build from a JSON object; unknown keys raise `KeyError` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise KeyError(f"unknown address field(s): {', '.join(unknown)}")
        values = {k: "" if v is None else str(v) for k, v in data.items()}
        return cls(**values)


@dataclass(frozen=True, slots=True)
class CivicAddress:
    """A normalised, MSAG-validated civic address (the dispatchable location)."""

    country: str
    """ca:country: US | CA."""
    state: str
    """ca:A1: USPS state / Canada Post province code (2 letters)."""
    street_name: str
    """ca:RD: primary street name ("LARAMIE", "US HWY 89")."""
    house_number: str
    """ca:HNO: numeric part of the house number."""
    city: str = ""
    """ca:A3: MSAG community (incorporated municipality)."""
    county: str = ""
    """ca:A2: county name."""
    community: str = ""
    """ca:A4: unincorporated community, when known."""
    house_number_suffix: str = ""
    """ca:HNS: "A", "1/2"."""
    prefix_directional: str = ""
    """ca:PRD: N S E W NE NW SE SW (USPS abbreviation)."""
    street_suffix: str = ""
    """ca:STS: street type, USPS Pub 28 C1 abbreviation ("ST") or Canada Post ("RUE")."""
    post_directional: str = ""
    """ca:POD."""
    location_info: str = ""
    """ca:LOC: free-text street2 that did not parse into floor/unit/room/building."""
    floor: str = ""
    """ca:FLR."""
    unit: str = ""
    """ca:UNIT: "STE 210", "APT 4"."""
    room: str = ""
    """ca:ROOM."""
    building: str = ""
    """ca:BLD."""
    postal_code: str = ""
    """ca:PC: ZIP (5 digits) or Canadian postal code "A1A 1A1"."""
    plus4: str = ""
    """ZIP+4 add-on; not a PIDF element, kept for display and mail."""
    postal_community: str = ""
    """ca:PCN: USPS / Canada Post city name."""
    extras: tuple[tuple[str, str], ...] = field(default=())
    """Anything else worth keeping, as (name, value) pairs; not sent in the PIDF-LO."""

    def street_line(self) -> str:
        """The USPS delivery line: "123 E LARAMIE ST STE 4"."""
        suffix = f" {self.house_number_suffix}" if self.house_number_suffix else ""
        number = self.house_number + suffix
        parts = [
            number,
            self.prefix_directional,
            self.street_name,
            self.street_suffix,
            self.post_directional,
        ]
        return " ".join(p for p in parts if p)

    def secondary_line(self) -> str:
        """Building, floor, unit, room and free text, as one line."""
        parts = [self.building, self.floor and f"FL {self.floor}", self.unit, self.room,
                 self.location_info]
        return " ".join(p for p in parts if p)

    def last_line(self) -> str:
        """ "WHITE SULPHUR SPRINGS MT 59645-1234"."""
        city = self.postal_community or self.city
        zip_code = self.postal_code + (f"-{self.plus4}" if self.plus4 else "")
        return " ".join(p for p in (city, self.state, zip_code) if p)

    def one_line(self) -> str:
        """A single display line (never logged: log the address id instead)."""
        return ", ".join(p for p in (self.street_line(), self.secondary_line(), self.last_line())
                         if p)

    def with_changes(self, **changes: str) -> CivicAddress:
        return replace(self, **changes)  # type: ignore[arg-type]
