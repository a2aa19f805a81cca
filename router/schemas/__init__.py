"""XML schemas shipped with the router as package data (router/schemas/pidf/PROVENANCE.md says
where each file came from and its licence)."""

from __future__ import annotations

from pathlib import Path

PIDF_XSD_DIR = Path(__file__).resolve().parent / "pidf"
"""The PIDF-LO schema set: RFC 3863, 4479, 4119, 5139, 6848 and 5962, and the W3C xml.xsd."""

PIDF_LO_BUNDLE = PIDF_XSD_DIR / "pidf-lo-bundle.xsd"
"""One schema that imports every PIDF-LO namespace above, so one compiled set validates all."""
