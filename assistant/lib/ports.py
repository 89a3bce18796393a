"""Loopback ports: is one taken, and a free one."""

from __future__ import annotations

import socket


def is_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Is something listening there? (Connections left in TIME_WAIT do not count, as for a
    server that binds it.)"""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
