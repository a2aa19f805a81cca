"""Properties of validation over arbitrary input: it never raises, a verdict is consistent
with its fields, and nothing it returns as valid carries a forbidden character."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from router.location.civic import AddressInput
from router.location.msag import MsagIndex, parse_msag_files
from router.location.validate import ValidationStatus, validate_address

MSAG_DIR = Path(__file__).resolve().parents[2] / "config" / "msag"
INDEX = MsagIndex.from_rows(parse_msag_files(sorted(MSAG_DIR.glob("*.csv"))).rows)
FORBIDDEN = set("<>\r\n\x00")

words = st.sampled_from(["E", "East", "Laramie", "Larime", "St", "Street", "Main", "W", "Hwy",
                         "89", "US", "rue", "Laurier", "PO", "Box", "RR", "1st", "Ave", "S",
                         "Suite", "210", "Floor", "#", "-", "½", "Québec", "<", "\n"])
phrase = st.lists(words, max_size=6).map(" ".join)
text = st.one_of(phrase, st.text(max_size=30))


@settings(max_examples=400, deadline=None)
@given(country=st.sampled_from(["US", "CA", "usa", "", "MX"]),
       house_number=st.one_of(st.sampled_from(["301", "100", "12 1/2", "210-24", ""]), text),
       street=text, street2=text,
       city=st.one_of(st.sampled_from(["White Sulphur Springs", "Ringling", "Ottawa",
                                       "Gatineau", ""]), text),
       state=st.sampled_from(["MT", "Montana", "ON", "QC", "Québec", "", "ZZ"]),
       postal_code=st.one_of(st.sampled_from(["59645", "59642", "K1M 1M4", "J8X 3V9",
                                              "59645-1234", ""]), text),
       plus4=st.sampled_from(["", "1234", "12"]))
def test_validation_never_raises_and_its_verdict_is_consistent(
        country: str, house_number: str, street: str, street2: str, city: str, state: str,
        postal_code: str, plus4: str) -> None:
    """Valid means: no errors, a normalized address and an MSAG match, no forbidden
    characters anywhere in it. Invalid means: at least one error and nothing normalized."""
    result = validate_address(AddressInput(country, house_number, street, street2, city,
                                           state, postal_code, plus4), INDEX)
    if result.status is ValidationStatus.VALID:
        assert result.errors == ()
        assert result.normalized is not None and result.msag is not None
        values = [getattr(result.normalized, f) for f in
                  result.normalized.__dataclass_fields__ if f != "extras"]
        assert not any(FORBIDDEN & set(v) for v in values)
        assert len(street2.strip()) <= 60
    else:
        assert result.errors
        assert result.normalized is None and result.msag is None
    assert result.to_json()["status"] == result.status.value
