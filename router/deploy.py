"""How this router is deployed: whether Kamailio fronts the workers (E911_FRONT), who decides
an ordinary call there (E911_FRONT_DECISIONS) and how logs are written (E911_LOG_FORMAT). Read
by router/settings.py, acted on by `run`, the front (router/kamailio/) and logging
(router/observe.py).
"""

from __future__ import annotations

from enum import StrEnum


class Front(StrEnum):
    KAMAILIO = "kamailio"
    """Kamailio takes E911_SIP_LISTEN and spreads calls over the workers (E911_WORKER_LISTEN)."""
    NONE = "none"
    """No front: worker k listens on E911_SIP_LISTEN's port + k - 1 (one worker, or a host whose
    workers sit behind another host's front)."""


class FrontDecisions(StrEnum):
    """Who decides an ordinary call at the front (E911_FRONT_DECISIONS, issue 19)."""

    PYTHON = "python"
    """Kamailio runs the workers' own decision code in-process (app_python3,
    router/kamailio/front_decide.py): a located caller's ordinary call goes to its route and an
    invalid number gets its 404 without a worker; everything else goes to a worker."""
    WORKERS = "workers"
    """Every call goes to a worker (as before issue 19)."""


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"
