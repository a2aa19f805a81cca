"""The per-call pipeline: pure, importable without pjsua2 (see docs/architecture.md)."""
