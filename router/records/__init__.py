"""Call records: one append-only, hash-chained record per emergency (911) and test (933) call,
the evidence an auditor asks for under 47 CFR 9.16(b). docs/observability.md, "Call records".

    model.py   the record (pure) and how a `CallOutcome` becomes one
    chain.py   canonical JSON and the hash chain (pure)
    store.py   append (one writer at a time per store), read, prune bodies, verify
    writer.py  the worker's side: a queue and a thread, a local spool when the store is down
    export.py  CSV / JSON for an auditor
"""
