"""The location domain: civic addresses, MSAG import and validation, network bindings,
registrations, and the in-memory view workers locate callers with (docs/architecture.md)."""
