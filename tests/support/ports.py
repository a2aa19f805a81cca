"""Loopback ports found free at run time: one port, a block of consecutive ones, a check."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for UDP and TCP on `host` right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
            return port


def free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive ports free for UDP and TCP on `host` right now."""
    for _ in range(200):
        first = free_port(host)
        if first + count > 65535:
            continue
        if all(port_free(first + k, host) for k in range(1, count)):
            return first
    raise AssertionError(f"no block of {count} free ports on {host}")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """`port` can be bound for UDP and TCP on `host` right now."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


def udp_port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Something has bound UDP `port` on `host` (a SIP peer that has started)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
