"""Postal reference tables: USPS Publication 28 and Canada Post abbreviations.

Pure data and tiny lookups, no I/O. The tables are typed from the public documents:

- USPS Publication 28 (Postal Addressing Standards), Appendix B (state abbreviations),
  Appendix C1 (street suffix abbreviations: primary name, common abbreviations, standard
  abbreviation), Appendix C2 (secondary unit designators) and section 233 (directionals).
- Canada Post Addressing Guidelines: province and territory symbols, street types (including
  the French types that come before the name, "RUE LAURIER"), and the first letter of the
  postal code for each province.

Values are upper case, as Pub 28 prints them.
"""

from __future__ import annotations

from typing import Final

US_STATES: Final[dict[str, str]] = {
    "AL": "ALABAMA", "AK": "ALASKA", "AZ": "ARIZONA", "AR": "ARKANSAS", "CA": "CALIFORNIA",
    "CO": "COLORADO", "CT": "CONNECTICUT", "DE": "DELAWARE", "DC": "DISTRICT OF COLUMBIA",
    "FL": "FLORIDA", "GA": "GEORGIA", "HI": "HAWAII", "ID": "IDAHO", "IL": "ILLINOIS",
    "IN": "INDIANA", "IA": "IOWA", "KS": "KANSAS", "KY": "KENTUCKY", "LA": "LOUISIANA",
    "ME": "MAINE", "MD": "MARYLAND", "MA": "MASSACHUSETTS", "MI": "MICHIGAN",
    "MN": "MINNESOTA", "MS": "MISSISSIPPI", "MO": "MISSOURI", "MT": "MONTANA",
    "NE": "NEBRASKA", "NV": "NEVADA", "NH": "NEW HAMPSHIRE", "NJ": "NEW JERSEY",
    "NM": "NEW MEXICO", "NY": "NEW YORK", "NC": "NORTH CAROLINA", "ND": "NORTH DAKOTA",
    "OH": "OHIO", "OK": "OKLAHOMA", "OR": "OREGON", "PA": "PENNSYLVANIA",
    "RI": "RHODE ISLAND", "SC": "SOUTH CAROLINA", "SD": "SOUTH DAKOTA", "TN": "TENNESSEE",
    "TX": "TEXAS", "UT": "UTAH", "VT": "VERMONT", "VA": "VIRGINIA", "WA": "WASHINGTON",
    "WV": "WEST VIRGINIA", "WI": "WISCONSIN", "WY": "WYOMING",
    # Territories with 9-1-1 service addressed through USPS (Pub 28 Appendix B).
    "AS": "AMERICAN SAMOA", "GU": "GUAM", "MP": "NORTHERN MARIANA ISLANDS",
    "PR": "PUERTO RICO", "VI": "VIRGIN ISLANDS",
}
"""Pub 28 Appendix B: two-letter code -> name."""

CA_PROVINCES: Final[dict[str, str]] = {
    "AB": "ALBERTA", "BC": "BRITISH COLUMBIA", "MB": "MANITOBA", "NB": "NEW BRUNSWICK",
    "NL": "NEWFOUNDLAND AND LABRADOR", "NS": "NOVA SCOTIA", "NT": "NORTHWEST TERRITORIES",
    "NU": "NUNAVUT", "ON": "ONTARIO", "PE": "PRINCE EDWARD ISLAND", "QC": "QUEBEC",
    "SK": "SASKATCHEWAN", "YT": "YUKON",
}
"""Canada Post province and territory symbols -> English name."""

_EXTRA_PROVINCE_NAMES: Final[dict[str, str]] = {
    "QUÉBEC": "QC", "NEWFOUNDLAND": "NL", "LABRADOR": "NL", "YUKON TERRITORY": "YT",
    "COLOMBIE-BRITANNIQUE": "BC", "NOUVEAU-BRUNSWICK": "NB", "NOUVELLE-ÉCOSSE": "NS",
    "NOUVELLE-ECOSSE": "NS", "ÎLE-DU-PRINCE-ÉDOUARD": "PE", "ILE-DU-PRINCE-EDOUARD": "PE",
    "TERRE-NEUVE-ET-LABRADOR": "NL", "TERRITOIRES DU NORD-OUEST": "NT", "PQ": "QC",
    "NF": "NL", "LB": "NL",
}
"""French names and retired symbols people still type."""

CA_POSTAL_FIRST_LETTER: Final[dict[str, frozenset[str]]] = {
    "NL": frozenset("A"), "NS": frozenset("B"), "PE": frozenset("C"), "NB": frozenset("E"),
    "QC": frozenset("GHJ"), "ON": frozenset("KLMNP"), "MB": frozenset("R"),
    "SK": frozenset("S"), "AB": frozenset("T"), "BC": frozenset("V"),
    "NT": frozenset("X"), "NU": frozenset("X"), "YT": frozenset("Y"),
}
"""Canada Post: the first letter of a postal code names the province or territory."""

CA_POSTAL_LETTERS: Final[frozenset[str]] = frozenset("ABCEGHJKLMNPRSTVXY")
"""Letters Canada Post uses in the first position (never D F I O Q U W Z)."""

CA_POSTAL_INNER_LETTERS: Final[frozenset[str]] = frozenset("ABCEGHJKLMNPRSTVWXYZ")
"""Letters allowed in positions 3 and 5 (D F I O Q U are never used)."""

DIRECTIONALS: Final[dict[str, str]] = {
    "N": "N", "S": "S", "E": "E", "W": "W", "NE": "NE", "NW": "NW", "SE": "SE", "SW": "SW",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW",
    "NORTH EAST": "NE", "NORTH WEST": "NW", "SOUTH EAST": "SE", "SOUTH WEST": "SW",
    "N E": "NE", "N W": "NW", "S E": "SE", "S W": "SW",
    # Canada Post bilingual directionals (French), folded to the same letters.
    "NORD": "N", "SUD": "S", "EST": "E", "OUEST": "W", "O": "W",
    "NORD-EST": "NE", "NORD-OUEST": "NW", "SUD-EST": "SE", "SUD-OUEST": "SW",
}
"""Pub 28 section 233: directional words -> one- or two-letter abbreviation."""

DIRECTIONAL_CODES: Final[frozenset[str]] = frozenset(
    {"N", "S", "E", "W", "NE", "NW", "SE", "SW"}
)

# Pub 28 Appendix C1: standard abbreviation -> the primary name and the common
# abbreviations/misspellings USPS lists for it. Every key and variant maps to the standard.
_C1: Final[dict[str, tuple[str, ...]]] = {
    "ALY": ("ALLEY", "ALLEE", "ALLY"),
    "ANX": ("ANEX", "ANNEX", "ANNX"),
    "ARC": ("ARCADE",),
    "AVE": ("AVENUE", "AV", "AVEN", "AVENU", "AVN", "AVNUE"),
    "BYU": ("BAYOU", "BAYOO"),
    "BCH": ("BEACH",),
    "BND": ("BEND",),
    "BLF": ("BLUFF", "BLUF"),
    "BLFS": ("BLUFFS",),
    "BTM": ("BOTTOM", "BOT", "BOTTM"),
    "BLVD": ("BOULEVARD", "BOUL", "BOULV"),
    "BR": ("BRANCH", "BRNCH"),
    "BRG": ("BRIDGE", "BRDGE"),
    "BRK": ("BROOK",),
    "BRKS": ("BROOKS",),
    "BG": ("BURG",),
    "BGS": ("BURGS",),
    "BYP": ("BYPASS", "BYPA", "BYPAS", "BYPS"),
    "CP": ("CAMP", "CMP"),
    "CYN": ("CANYON", "CANYN", "CNYN"),
    "CPE": ("CAPE",),
    "CSWY": ("CAUSEWAY", "CAUSWA"),
    "CTR": ("CENTER", "CEN", "CENT", "CENTR", "CENTRE", "CNTER", "CNTR"),
    "CTRS": ("CENTERS",),
    "CIR": ("CIRCLE", "CIRC", "CIRCL", "CRCL", "CRCLE"),
    "CIRS": ("CIRCLES",),
    "CLF": ("CLIFF",),
    "CLFS": ("CLIFFS",),
    "CLB": ("CLUB",),
    "CMN": ("COMMON",),
    "CMNS": ("COMMONS",),
    "COR": ("CORNER",),
    "CORS": ("CORNERS",),
    "CRSE": ("COURSE",),
    "CT": ("COURT",),
    "CTS": ("COURTS",),
    "CV": ("COVE",),
    "CVS": ("COVES",),
    "CRK": ("CREEK",),
    "CRES": ("CRESCENT", "CRSENT", "CRSNT"),
    "CRST": ("CREST",),
    "XING": ("CROSSING", "CRSSNG"),
    "XRD": ("CROSSROAD",),
    "XRDS": ("CROSSROADS",),
    "CURV": ("CURVE",),
    "DL": ("DALE",),
    "DM": ("DAM",),
    "DV": ("DIVIDE", "DIV", "DVD"),
    "DR": ("DRIVE", "DRIV", "DRV"),
    "DRS": ("DRIVES",),
    "EST": ("ESTATE",),
    "ESTS": ("ESTATES",),
    "EXPY": ("EXPRESSWAY", "EXP", "EXPR", "EXPRESS", "EXPW"),
    "EXT": ("EXTENSION", "EXTN", "EXTNSN"),
    "EXTS": ("EXTENSIONS",),
    "FALL": (),
    "FLS": ("FALLS",),
    "FRY": ("FERRY", "FRRY"),
    "FLD": ("FIELD",),
    "FLDS": ("FIELDS",),
    "FLT": ("FLAT",),
    "FLTS": ("FLATS",),
    "FRD": ("FORD",),
    "FRDS": ("FORDS",),
    "FRST": ("FOREST", "FORESTS"),
    "FRG": ("FORGE", "FORG"),
    "FRGS": ("FORGES",),
    "FRK": ("FORK",),
    "FRKS": ("FORKS",),
    "FT": ("FORT", "FRT"),
    "FWY": ("FREEWAY", "FREEWY", "FRWAY", "FRWY"),
    "GDN": ("GARDEN", "GARDN", "GRDEN", "GRDN"),
    "GDNS": ("GARDENS", "GRDNS"),
    "GTWY": ("GATEWAY", "GATEWY", "GATWAY", "GTWAY"),
    "GLN": ("GLEN",),
    "GLNS": ("GLENS",),
    "GRN": ("GREEN",),
    "GRNS": ("GREENS",),
    "GRV": ("GROVE", "GROV"),
    "GRVS": ("GROVES",),
    "HBR": ("HARBOR", "HARB", "HARBR", "HRBOR"),
    "HBRS": ("HARBORS",),
    "HVN": ("HAVEN",),
    "HTS": ("HEIGHTS", "HT"),
    "HWY": ("HIGHWAY", "HIGHWY", "HIWAY", "HIWY", "HWAY"),
    "HL": ("HILL",),
    "HLS": ("HILLS",),
    "HOLW": ("HOLLOW", "HLLW", "HOLLOWS", "HOLWS"),
    "INLT": ("INLET",),
    "IS": ("ISLAND", "ISLND"),
    "ISS": ("ISLANDS", "ISLNDS"),
    "ISLE": ("ISLES",),
    "JCT": ("JUNCTION", "JCTION", "JCTN", "JUNCTN", "JUNCTON"),
    "JCTS": ("JUNCTIONS", "JCTNS"),
    "KY": ("KEY",),
    "KYS": ("KEYS",),
    "KNL": ("KNOLL", "KNOL"),
    "KNLS": ("KNOLLS",),
    "LK": ("LAKE",),
    "LKS": ("LAKES",),
    "LAND": (),
    "LNDG": ("LANDING", "LNDNG"),
    "LN": ("LANE",),
    "LGT": ("LIGHT",),
    "LGTS": ("LIGHTS",),
    "LF": ("LOAF",),
    "LCK": ("LOCK",),
    "LCKS": ("LOCKS",),
    "LDG": ("LODGE", "LDGE", "LODG"),
    "LOOP": ("LOOPS",),
    "MALL": (),
    "MNR": ("MANOR",),
    "MNRS": ("MANORS",),
    "MDW": ("MEADOW",),
    "MDWS": ("MEADOWS", "MEDOWS"),
    "MEWS": (),
    "ML": ("MILL",),
    "MLS": ("MILLS",),
    "MSN": ("MISSION", "MISSN", "MSSN"),
    "MTWY": ("MOTORWAY",),
    "MT": ("MOUNT", "MNT"),
    "MTN": ("MOUNTAIN", "MNTAIN", "MNTN", "MOUNTIN", "MTIN"),
    "MTNS": ("MOUNTAINS", "MNTNS"),
    "NCK": ("NECK",),
    "ORCH": ("ORCHARD", "ORCHRD"),
    "OVAL": ("OVL",),
    "OPAS": ("OVERPASS",),
    "PARK": ("PRK", "PARKS"),
    "PKWY": ("PARKWAY", "PARKWY", "PKWAY", "PKY", "PARKWAYS", "PKWYS"),
    "PASS": (),
    "PSGE": ("PASSAGE",),
    "PATH": ("PATHS",),
    "PIKE": ("PIKES",),
    "PNE": ("PINE",),
    "PNES": ("PINES",),
    "PL": ("PLACE",),
    "PLN": ("PLAIN",),
    "PLNS": ("PLAINS",),
    "PLZ": ("PLAZA", "PLZA"),
    "PT": ("POINT",),
    "PTS": ("POINTS",),
    "PRT": ("PORT",),
    "PRTS": ("PORTS",),
    "PR": ("PRAIRIE", "PRR"),
    "RADL": ("RADIAL", "RAD", "RADIEL"),
    "RAMP": (),
    "RNCH": ("RANCH", "RANCHES", "RNCHS"),
    "RPD": ("RAPID",),
    "RPDS": ("RAPIDS",),
    "RST": ("REST",),
    "RDG": ("RIDGE", "RDGE"),
    "RDGS": ("RIDGES",),
    "RIV": ("RIVER", "RVR", "RIVR"),
    "RD": ("ROAD",),
    "RDS": ("ROADS",),
    "RTE": ("ROUTE",),
    "ROW": (),
    "RUE": (),
    "RUN": (),
    "SHL": ("SHOAL",),
    "SHLS": ("SHOALS",),
    "SHR": ("SHORE", "SHOAR"),
    "SHRS": ("SHORES", "SHOARS"),
    "SKWY": ("SKYWAY",),
    "SPG": ("SPRING", "SPNG", "SPRNG"),
    "SPGS": ("SPRINGS", "SPNGS", "SPRNGS"),
    "SPUR": ("SPURS",),
    "SQ": ("SQUARE", "SQR", "SQRE", "SQU"),
    "SQS": ("SQUARES", "SQRS"),
    "STA": ("STATION", "STATN", "STN"),
    "STRA": ("STRAVENUE", "STRAV", "STRAVEN", "STRAVN", "STRVN", "STRVNUE"),
    "STRM": ("STREAM", "STREME"),
    "ST": ("STREET", "STRT", "STR"),
    "STS": ("STREETS",),
    "SMT": ("SUMMIT", "SUMIT", "SUMITT"),
    "TER": ("TERRACE", "TERR"),
    "TRWY": ("THROUGHWAY",),
    "TRCE": ("TRACE", "TRACES"),
    "TRAK": ("TRACK", "TRACKS", "TRK", "TRKS"),
    "TRFY": ("TRAFFICWAY",),
    "TRL": ("TRAIL", "TRAILS", "TRLS"),
    "TRLR": ("TRAILER", "TRLRS"),
    "TUNL": ("TUNNEL", "TUNEL", "TUNLS", "TUNNELS", "TUNNL"),
    "TPKE": ("TURNPIKE", "TRNPK", "TURNPK"),
    "UPAS": ("UNDERPASS",),
    "UN": ("UNION",),
    "UNS": ("UNIONS",),
    "VLY": ("VALLEY", "VALLY", "VLLY"),
    "VLYS": ("VALLEYS",),
    "VIA": ("VIADUCT", "VDCT", "VIADCT"),
    "VW": ("VIEW",),
    "VWS": ("VIEWS",),
    "VLG": ("VILLAGE", "VILL", "VILLAG", "VILLG", "VILLIAGE"),
    "VLGS": ("VILLAGES",),
    "VL": ("VILLE",),
    "VIS": ("VISTA", "VIST", "VST", "VSTA"),
    "WALK": ("WALKS",),
    "WALL": (),
    "WAY": ("WY",),
    "WAYS": (),
    "WL": ("WELL",),
    "WLS": ("WELLS",),
}

US_STREET_TYPES: Final[dict[str, str]] = {
    **{std: std for std in _C1},
    **{variant: std for std, variants in _C1.items() for variant in variants},
}
"""Pub 28 C1: any primary name or common abbreviation -> the standard abbreviation."""

CA_STREET_TYPES: Final[dict[str, str]] = {
    # English types Canada Post abbreviates differently from USPS, or not at all.
    "AVENUE": "AVE", "AVE": "AVE", "BOULEVARD": "BLVD", "BLVD": "BLVD", "CRESCENT": "CRES",
    "CRES": "CRES", "DRIVE": "DR", "DR": "DR", "STREET": "ST", "ST": "ST", "ROAD": "RD",
    "RD": "RD", "COURT": "CRT", "CRT": "CRT", "CT": "CRT", "PLACE": "PL", "PL": "PL",
    "TERRACE": "TERR", "TERR": "TERR", "PARKWAY": "PKY", "PKY": "PKY", "PKWY": "PKY",
    "HIGHWAY": "HWY", "HWY": "HWY", "LANE": "LANE", "LN": "LANE", "WAY": "WAY",
    "CIRCLE": "CIR", "CIR": "CIR", "SQUARE": "SQ", "SQ": "SQ", "GATE": "GATE",
    "TRAIL": "TRAIL", "TRL": "TRAIL", "GROVE": "GROVE", "HEIGHTS": "HTS", "HTS": "HTS",
    "EXPRESSWAY": "EXPY", "EXPY": "EXPY", "FREEWAY": "FWY", "FWY": "FWY",
    # French types (Canada Post lists them unabbreviated except a few).
    "RUE": "RUE", "CHEMIN": "CH", "CH": "CH", "BOUL": "BOUL",
    "MONTÉE": "MONTÉE", "MONTEE": "MONTÉE", "RANG": "RANG", "ROUTE": "RTE", "RTE": "RTE",
    "AUTOROUTE": "AUT", "AUT": "AUT", "PROMENADE": "PROM", "PROM": "PROM",
    "CÔTE": "CÔTE", "COTE": "CÔTE", "IMPASSE": "IMP", "IMP": "IMP", "ALLÉE": "ALLÉE",
    "ALLEE": "ALLÉE", "CROISSANT": "CROIS", "CROIS": "CROIS", "CARRÉ": "CAR", "CAR": "CAR",
    "RUELLE": "RUELLE", "SENTIER": "SENT", "SENT": "SENT",
}
"""Canada Post street types, English and French, -> Canada Post symbol."""

CA_TYPE_FIRST: Final[frozenset[str]] = frozenset(
    {"RUE", "CH", "BOUL", "MONTÉE", "RANG", "RTE", "AUT", "PROM", "CÔTE", "IMP", "ALLÉE",
     "CROIS", "CAR", "RUELLE", "SENT", "AVENUE", "AVE"}
)
"""French types written before the name ("RUE LAURIER", "CHEMIN D'AYLMER")."""

HIGHWAY_WORDS: Final[dict[str, str]] = {
    "HIGHWAY": "HWY", "HWY": "HWY", "HIWAY": "HWY", "HWAY": "HWY", "HIGHWY": "HWY",
    "HIWY": "HWY", "HY": "HWY",
}

HIGHWAY_QUALIFIERS: Final[dict[str, str]] = {
    "US": "US", "U.S.": "US", "U S": "US", "UNITED STATES": "US", "FEDERAL": "US",
    "STATE": "STATE", "ST": "STATE", "SR": "STATE", "STATE ROUTE": "STATE",
    "COUNTY": "COUNTY", "CO": "COUNTY", "CR": "COUNTY", "CNTY": "COUNTY",
}
"""Highway pre-types (Pub 28 section 234) -> the word the MSAG folds into the name."""

SECONDARY_UNITS: Final[dict[str, str]] = {
    "APARTMENT": "APT", "APT": "APT", "BASEMENT": "BSMT", "BSMT": "BSMT",
    "BUILDING": "BLDG", "BLDG": "BLDG", "DEPARTMENT": "DEPT", "DEPT": "DEPT",
    "FLOOR": "FL", "FL": "FL", "FLR": "FL", "FRONT": "FRNT", "FRNT": "FRNT",
    "HANGAR": "HNGR", "HNGR": "HNGR", "KEY": "KEY", "LOBBY": "LBBY", "LBBY": "LBBY",
    "LOT": "LOT", "LOWER": "LOWR", "LOWR": "LOWR", "OFFICE": "OFC", "OFC": "OFC",
    "PENTHOUSE": "PH", "PH": "PH", "PIER": "PIER", "REAR": "REAR", "ROOM": "RM", "RM": "RM",
    "SIDE": "SIDE", "SLIP": "SLIP", "SPACE": "SPC", "SPC": "SPC", "STOP": "STOP",
    "SUITE": "STE", "STE": "STE", "TRAILER": "TRLR", "TRLR": "TRLR", "UNIT": "UNIT",
    "UPPER": "UPPR", "UPPR": "UPPR", "#": "#",
    # Canada Post French designators.
    "BUREAU": "BUREAU", "APPARTEMENT": "APP", "APP": "APP", "ÉTAGE": "FL", "ETAGE": "FL",
    "PIÈCE": "RM", "PIECE": "RM", "SALLE": "RM", "ÉDIFICE": "BLDG", "EDIFICE": "BLDG",
}
"""Pub 28 Appendix C2 secondary unit designators (and Canada Post French ones)."""

ORDINAL_WORDS: Final[dict[str, str]] = {
    "FIRST": "1ST", "SECOND": "2ND", "THIRD": "3RD", "FOURTH": "4TH", "FIFTH": "5TH",
    "SIXTH": "6TH", "SEVENTH": "7TH", "EIGHTH": "8TH", "NINTH": "9TH", "TENTH": "10TH",
    "ELEVENTH": "11TH", "TWELFTH": "12TH", "THIRTEENTH": "13TH", "FOURTEENTH": "14TH",
    "FIFTEENTH": "15TH", "SIXTEENTH": "16TH", "SEVENTEENTH": "17TH", "EIGHTEENTH": "18TH",
    "NINETEENTH": "19TH", "TWENTIETH": "20TH",
}
"""Pub 28 section 232: numbered streets are written as figures with ordinal suffix."""


def state_code(country: str, value: str) -> str | None:
    """The two-letter code for a state or province given as code or full name, else None."""
    text = " ".join(value.replace(".", " ").upper().split())
    if country == "US":
        if text in US_STATES:
            return text
        return _US_BY_NAME.get(text)
    if country == "CA":
        if text in CA_PROVINCES:
            return text
        return _CA_BY_NAME.get(text) or _EXTRA_PROVINCE_NAMES.get(text)
    return None


def ordinal(number: int) -> str:
    """1 -> "1ST", 12 -> "12TH", 22 -> "22ND" (Pub 28 section 232)."""
    if 10 <= number % 100 <= 20:
        suffix = "TH"
    else:
        suffix = {1: "ST", 2: "ND", 3: "RD"}.get(number % 10, "TH")
    return f"{number}{suffix}"


_US_BY_NAME: Final[dict[str, str]] = {name: code for code, name in US_STATES.items()}
_CA_BY_NAME: Final[dict[str, str]] = {name: code for code, name in CA_PROVINCES.items()}
