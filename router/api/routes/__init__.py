"""One router per resource: account, users (and their tokens), saved addresses (with
bindings and location), networks, events."""
