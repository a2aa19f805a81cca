"""The database layer under every store: the engine and its per-backend settings (`engine`),
the one way to run a read or write transaction (`transactions`), the current schema
(`schema`) and the numbered steps that build it (`migrations`).

SQLite (the embedded default) and PostgreSQL (several hosts) through one SQLAlchemy Core
schema; the location store (`router.store`), the notification outbox, the call records and
the API tokens all run their SQL through here.
"""
