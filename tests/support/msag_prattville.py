"""A SYNTHETIC MSAG extract for Prattville, AL (test data, not 9-1-1 data), shared by the
validation unit tests and the API tests of issue 18.

The held-out finding was `250 E Main St, Prattville, AL 94105`: the MSAG range says 36067,
94105 is a San Francisco ZIP. Neither shipped extract (config/msag/) has Alabama, so the
rows are written here: both sides of E MAIN ST in ZIP 36067, W MAIN ST in 36066 (Prattville
has both ZIPs), and an overlap on DOSTER RD whose two ESNs carry different ZIPs.
"""

from __future__ import annotations

from router.location.msag import MsagImport, parse_msag_csv

_HEADER = ("msag_id,country,state,county,msag_community,postal_community,zip,pre_dir,"
           "street_name,street_type,post_dir,low,high,parity,esn,exchange,psap_id,"
           "effective_date,expire_date,source\n")
_SOURCE = "SYNTHETIC test fixture (not real 9-1-1 data)"

PRATTVILLE_CSV = _HEADER + "".join(f"{row},{_SOURCE}\n" for row in (
    "PRT-0001,US,AL,AUTAUGA,PRATTVILLE,PRATTVILLE,36067,E,MAIN,ST,,200,398,E,01010,,PSAP-AUT,,",
    "PRT-0002,US,AL,AUTAUGA,PRATTVILLE,PRATTVILLE,36067,E,MAIN,ST,,201,399,O,01010,,PSAP-AUT,,",
    "PRT-0003,US,AL,AUTAUGA,PRATTVILLE,PRATTVILLE,36066,W,MAIN,ST,,100,598,B,01010,,PSAP-AUT,,",
    "PRT-0004,US,AL,AUTAUGA,PRATTVILLE,PRATTVILLE,36066,,DOSTER,RD,,1,199,O,01010,,PSAP-AUT,,",
    "PRT-0005,US,AL,ELMORE,PRATTVILLE,PRATTVILLE,36067,,DOSTER,RD,,101,299,O,01020,,PSAP-ELM,,",
    "PRT-0006,US,AL,AUTAUGA,PRATTVILLE,PRATTVILLE,,,NO ZIP,RD,,1,99,B,01010,,PSAP-AUT,,",
))


def prattville_msag() -> MsagImport:
    """The extract above, parsed (checked: no errors)."""
    parsed = parse_msag_csv(PRATTVILLE_CSV)
    assert parsed.ok, parsed.errors[:3]
    return parsed


def prattville(**changes: str) -> dict[str, str]:
    """The finding's address as typed, fields replaced."""
    return {"country": "US", "house_number": "250", "street": "E Main St",
            "city": "Prattville", "state": "AL", "postal_code": "94105", **changes}
