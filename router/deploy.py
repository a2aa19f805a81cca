"""How this router is deployed: whether Kamailio fronts the workers (E911_FRONT) and how logs
are written (E911_LOG_FORMAT). Read by router/settings.py, acted on by `run`, the front
(router/kamailio/) and logging (router/observe.py).
"""

from __future__ import annotations

from enum import StrEnum


class Front(StrEnum):
    KAMAILIO = "kamailio"
    """Kamailio takes E911_SIP_LISTEN and spreads calls over the workers (E911_WORKER_LISTEN)."""
    NONE = "none"
    """No front: worker k listens on E911_SIP_LISTEN's port + k - 1 (one worker, or a host whose
    workers sit behind another host's front)."""


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"
