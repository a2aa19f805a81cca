"""Where the repository's test inputs live: the checkout, the SIPp scenarios, the prompts."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "sipp-scenarios"
PROMPTS = REPO / "config" / "prompts"
