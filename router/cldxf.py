"""Word tables for the US/Canada civic profile (NENA CLDXF; docs/pidf-lo.md, "Element mapping").

Stored addresses use postal abbreviations ("E", "ST", "STE 210": USPS Publication 28 /
Canada Post); the PIDF-LO we send spells street types, directionals and unit designators out
("East", "Street", "Suite 210"), as the CLDXF-US profile asks. `spell_*` go one way,
`abbreviate_*` the other, so that `router.pidf.from_pidf(to_pidf(address))` gives back the
stored address. Lookups ignore case; words we do not know pass through unchanged.

Sources: USPS Publication 28 Appendix C1 (street suffixes: the primary name of each standard
abbreviation) and C2 (secondary unit designators); Canada Post Addressing Guidelines (street
types, English and French, and French directionals). Written from those publications'
well-known lists; no file was copied.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "FRENCH_PREFIX_STREET_TYPES",
    "abbreviate_directional",
    "abbreviate_street_type",
    "abbreviate_unit",
    "is_french_street_type",
    "spell_directional",
    "spell_street_type",
    "spell_unit",
]

# USPS Pub 28 C1: standard suffix abbreviation -> primary street suffix name, as a word.
# Where two names share one abbreviation (PARK/PARKS, PKWY, SPUR, WALK) the singular wins.
_USPS_STREET_TYPES: Final = MappingProxyType({
    "ALY": "Alley", "ANX": "Annex", "ARC": "Arcade", "AVE": "Avenue", "BYU": "Bayou",
    "BCH": "Beach", "BND": "Bend", "BLF": "Bluff", "BLFS": "Bluffs", "BTM": "Bottom",
    "BLVD": "Boulevard", "BR": "Branch", "BRG": "Bridge", "BRK": "Brook", "BRKS": "Brooks",
    "BG": "Burg", "BGS": "Burgs", "BYP": "Bypass", "CP": "Camp", "CYN": "Canyon",
    "CPE": "Cape", "CSWY": "Causeway", "CTR": "Center", "CTRS": "Centers", "CIR": "Circle",
    "CIRS": "Circles", "CLF": "Cliff", "CLFS": "Cliffs", "CLB": "Club", "CMN": "Common",
    "CMNS": "Commons", "COR": "Corner", "CORS": "Corners", "CRSE": "Course", "CT": "Court",
    "CTS": "Courts", "CV": "Cove", "CVS": "Coves", "CRK": "Creek", "CRES": "Crescent",
    "CRST": "Crest", "XING": "Crossing", "XRD": "Crossroad", "XRDS": "Crossroads",
    "CURV": "Curve", "DL": "Dale", "DM": "Dam", "DV": "Divide", "DR": "Drive", "DRS": "Drives",
    "EST": "Estate", "ESTS": "Estates", "EXPY": "Expressway", "EXT": "Extension",
    "EXTS": "Extensions", "FALL": "Fall", "FLS": "Falls", "FRY": "Ferry", "FLD": "Field",
    "FLDS": "Fields", "FLT": "Flat", "FLTS": "Flats", "FRD": "Ford", "FRDS": "Fords",
    "FRST": "Forest", "FRG": "Forge", "FRGS": "Forges", "FRK": "Fork", "FRKS": "Forks",
    "FT": "Fort", "FWY": "Freeway", "GDN": "Garden", "GDNS": "Gardens", "GTWY": "Gateway",
    "GLN": "Glen", "GLNS": "Glens", "GRN": "Green", "GRNS": "Greens", "GRV": "Grove",
    "GRVS": "Groves", "HBR": "Harbor", "HBRS": "Harbors", "HVN": "Haven", "HTS": "Heights",
    "HWY": "Highway", "HL": "Hill", "HLS": "Hills", "HOLW": "Hollow", "INLT": "Inlet",
    "IS": "Island", "ISS": "Islands", "ISLE": "Isle", "JCT": "Junction", "JCTS": "Junctions",
    "KY": "Key", "KYS": "Keys", "KNL": "Knoll", "KNLS": "Knolls", "LK": "Lake", "LKS": "Lakes",
    "LAND": "Land", "LNDG": "Landing", "LN": "Lane", "LGT": "Light", "LGTS": "Lights",
    "LF": "Loaf", "LCK": "Lock", "LCKS": "Locks", "LDG": "Lodge", "LOOP": "Loop",
    "MALL": "Mall", "MNR": "Manor", "MNRS": "Manors", "MDW": "Meadow", "MDWS": "Meadows",
    "MEWS": "Mews", "ML": "Mill", "MLS": "Mills", "MSN": "Mission", "MTWY": "Motorway",
    "MT": "Mount", "MTN": "Mountain", "MTNS": "Mountains", "NCK": "Neck", "ORCH": "Orchard",
    "OVAL": "Oval", "OPAS": "Overpass", "PARK": "Park", "PKWY": "Parkway", "PASS": "Pass",
    "PSGE": "Passage", "PATH": "Path", "PIKE": "Pike", "PNE": "Pine", "PNES": "Pines",
    "PL": "Place", "PLN": "Plain", "PLNS": "Plains", "PLZ": "Plaza", "PT": "Point",
    "PTS": "Points", "PRT": "Port", "PRTS": "Ports", "PR": "Prairie", "RADL": "Radial",
    "RAMP": "Ramp", "RNCH": "Ranch", "RPD": "Rapid", "RPDS": "Rapids", "RST": "Rest",
    "RDG": "Ridge", "RDGS": "Ridges", "RIV": "River", "RD": "Road", "RDS": "Roads",
    "RTE": "Route", "ROW": "Row", "RUE": "Rue", "RUN": "Run", "SHL": "Shoal", "SHLS": "Shoals",
    "SHR": "Shore", "SHRS": "Shores", "SKWY": "Skyway", "SPG": "Spring", "SPGS": "Springs",
    "SPUR": "Spur", "SQ": "Square", "SQS": "Squares", "STA": "Station", "STRA": "Stravenue",
    "STRM": "Stream", "ST": "Street", "STS": "Streets", "SMT": "Summit", "TER": "Terrace",
    "TRWY": "Throughway", "TRCE": "Trace", "TRAK": "Track", "TRFY": "Trafficway",
    "TRL": "Trail", "TRLR": "Trailer", "TUNL": "Tunnel", "TPKE": "Turnpike",
    "UPAS": "Underpass", "UN": "Union", "UNS": "Unions", "VLY": "Valley", "VLYS": "Valleys",
    "VIA": "Viaduct", "VW": "View", "VWS": "Views", "VLG": "Village", "VLGS": "Villages",
    "VL": "Ville", "VIS": "Vista", "WALK": "Walk", "WALL": "Wall", "WAY": "Way",
    "WAYS": "Ways", "WL": "Well", "WLS": "Wells",
})

# Canada Post English street types whose abbreviation differs from USPS (the rest agree).
# For a Canadian address these win over USPS when a word is turned back into an abbreviation
# ("Court" -> "CRT"), so Canada Post abbreviations round-trip and USPS-only ones ("CT") in a
# Canadian address come back as the Canada Post form.
_CANADA_POST_ENGLISH_TYPES: Final = MappingProxyType({
    "CRT": "Court", "PKY": "Parkway", "TERR": "Terrace", "CIRCT": "Circuit", "CLOSE": "Close",
    "GATE": "Gate", "GROVE": "Grove", "LANE": "Lane", "TRAIL": "Trail", "BAY": "Bay",
    "CAPE": "Cape", "HEATH": "Heath", "HILL": "Hill", "LINE": "Line", "PORT": "Port",
    "RISE": "Rise", "WOOD": "Wood", "CONC": "Concession",
})

# Canada Post French street types: these stand BEFORE the street name ("RUE LAURIER"),
# so the PIDF-LO carries them as cae:STP (RFC 6848 street type prefix), not ca:STS.
_CANADA_POST_FRENCH_TYPES: Final = MappingProxyType({
    "RUE": "Rue", "AV": "Avenue", "BOUL": "Boulevard", "CH": "Chemin", "CROIS": "Croissant",
    "PROM": "Promenade", "IMP": "Impasse", "MONTÉE": "Montée", "MONTEE": "Montée",
    "RANG": "Rang", "TSSE": "Terrasse", "CAR": "Carré", "ALLÉE": "Allée", "ALLEE": "Allée",
    "CÔTE": "Côte", "COTE": "Côte", "SENT": "Sentier", "RLE": "Ruelle", "ESPL": "Esplanade",
    "CDS": "Cul-de-sac", "CARREF": "Carrefour", "DESC": "Descente",
    "QUAI": "Quai", "RDPT": "Rond-point", "AUT": "Autoroute",
})
FRENCH_PREFIX_STREET_TYPES: Final = frozenset(_CANADA_POST_FRENCH_TYPES)

_DIRECTIONALS_EN: Final = MappingProxyType({
    "N": "North", "S": "South", "E": "East", "W": "West",
    "NE": "Northeast", "NW": "Northwest", "SE": "Southeast", "SW": "Southwest",
})
# Canada Post French directionals: O is Ouest, NO/SO are Nord-Ouest/Sud-Ouest.
_DIRECTIONALS_FR: Final = MappingProxyType({
    "N": "Nord", "S": "Sud", "E": "Est", "O": "Ouest",
    "NE": "Nord-Est", "NO": "Nord-Ouest", "SE": "Sud-Est", "SO": "Sud-Ouest",
})

# USPS Pub 28 C2 secondary unit designators (first word of UNIT / ROOM / BLD values).
_UNIT_DESIGNATORS: Final = MappingProxyType({
    "APT": "Apartment", "BSMT": "Basement", "BLDG": "Building", "DEPT": "Department",
    "FL": "Floor", "FRNT": "Front", "HNGR": "Hangar", "KEY": "Key", "LBBY": "Lobby",
    "LOT": "Lot", "LOWR": "Lower", "OFC": "Office", "PH": "Penthouse", "PIER": "Pier",
    "REAR": "Rear", "RM": "Room", "SIDE": "Side", "SLIP": "Slip", "SPC": "Space",
    "STOP": "Stop", "STE": "Suite", "TRLR": "Trailer", "UNIT": "Unit", "UPPR": "Upper",
})


def _invert(*tables: MappingProxyType[str, str]) -> MappingProxyType[str, str]:
    """Word -> abbreviation; for a word listed twice, the first table's abbreviation wins."""
    inverse: dict[str, str] = {}
    for table in tables:
        for abbreviation, word in table.items():
            inverse.setdefault(word.upper(), abbreviation)
    return MappingProxyType(inverse)


_USPS_WORDS = _invert(_USPS_STREET_TYPES)
_CANADA_ENGLISH_WORDS = _invert(_CANADA_POST_ENGLISH_TYPES, _USPS_STREET_TYPES)
_FRENCH_WORDS = _invert(_CANADA_POST_FRENCH_TYPES)
_DIRECTION_WORDS = _invert(_DIRECTIONALS_EN, _DIRECTIONALS_FR)
_UNIT_WORDS = _invert(_UNIT_DESIGNATORS)


def is_french_street_type(abbreviation: str, country: str) -> bool:
    """True for a Canadian French street type, which precedes the name (cae:STP)."""
    return country.upper() == "CA" and abbreviation.upper() in FRENCH_PREFIX_STREET_TYPES


def spell_street_type(abbreviation: str, country: str) -> str:
    """ "ST" -> "Street"; Canadian types by Canada Post ("CRT" -> "Court", "RUE" -> "Rue")."""
    key = abbreviation.upper()
    if country.upper() == "CA":
        for table in (_CANADA_POST_FRENCH_TYPES, _CANADA_POST_ENGLISH_TYPES):
            if key in table:
                return table[key]
    return _USPS_STREET_TYPES.get(key, abbreviation)


def abbreviate_street_type(word: str, country: str, *, prefix: bool = False) -> str:
    """ "Street" -> "ST"; `prefix` (a cae:STP value) reads the Canadian French table."""
    key = word.upper()
    if prefix:
        return _FRENCH_WORDS.get(key, word)
    table = _CANADA_ENGLISH_WORDS if country.upper() == "CA" else _USPS_WORDS
    return table.get(key, word)


def spell_directional(abbreviation: str, *, french: bool = False) -> str:
    """ "E" -> "East" ("Est" when `french`); "O", "NO", "SO" are always French."""
    key = abbreviation.upper()
    if french or key not in _DIRECTIONALS_EN:
        return _DIRECTIONALS_FR.get(key, abbreviation)
    return _DIRECTIONALS_EN[key]


def abbreviate_directional(word: str) -> str:
    """ "East" or "Est" -> "E", "Ouest" -> "O"; unknown words unchanged."""
    return _DIRECTION_WORDS.get(word.upper(), word)


def spell_unit(value: str) -> str:
    """ "STE 210" -> "Suite 210": only a leading Pub 28 C2 designator is spelled out."""
    first, _, rest = value.partition(" ")
    word = _UNIT_DESIGNATORS.get(first.upper())
    if word is None:
        return value
    return f"{word} {rest}" if rest else word


def abbreviate_unit(value: str) -> str:
    """ "Suite 210" -> "STE 210"; the inverse of `spell_unit`."""
    first, _, rest = value.partition(" ")
    abbreviation = _UNIT_WORDS.get(first.upper())
    if abbreviation is None:
        return value
    return f"{abbreviation} {rest}" if rest else abbreviation
