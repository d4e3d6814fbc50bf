"""Bytes on a mutual-TLS connection, below any HTTP client: for what clients never send."""

from __future__ import annotations

import contextlib
import socket
import ssl
from urllib.parse import urlsplit


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def raw(context: ssl.SSLContext, url: str, data: bytes, timeout: float = 5.0) -> bytes:
    """Send `data` on one new connection; everything received until the server closes it
    (or `timeout` seconds pass without a byte)."""
    host, port = address(url)
    sock = socket.create_connection((host, port), timeout=timeout)
    with context.wrap_socket(sock, server_hostname=host) as tls:
        tls.sendall(data)
        received = b""
        with contextlib.suppress(OSError, ssl.SSLError):
            while chunk := tls.recv(65536):
                received += chunk
    return received
