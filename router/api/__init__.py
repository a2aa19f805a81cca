"""The HTTP API for administrators and users (issue 6): `create_app(settings, store)`.

docs/api.md documents every endpoint; `e911-router api` serves it (router/commands/api.py).
"""

from router.api.app import ApiOptions, create_app

__all__ = ["ApiOptions", "create_app"]
