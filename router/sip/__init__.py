"""The SIP side of a worker: only this package imports pjsua2 (`endpoint`, `legs`, `worker`, the
controllers `response`, `bridge`, `announce`, and `control`); the per-call decisions it carries
out are in the pure `router.call`."""
