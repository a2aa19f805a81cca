"""`e911-router` command groups: one module each, each with `register(subparsers)`."""
