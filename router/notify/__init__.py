"""Kari's Law notifications: e-mail to the account's emergency contacts after a 911 call."""
