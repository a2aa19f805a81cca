"""e911-router: a SIP call-routing engine that makes every outbound call E911-compliant."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("e911-router")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
