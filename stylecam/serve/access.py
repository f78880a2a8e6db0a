"""Who may use the server: checked on every HTTP request and every WebSocket handshake.

- Bound to a loopback address, the server answers only requests addressed to that
  address (the Host header), so a web page elsewhere cannot reach it through a DNS name
  pointed at 127.0.0.1; a WebSocket must come from the server's own page (the Origin
  header), so another site open in the browser cannot use it either.
- Bound to any other address, every request also carries the token: ``?token=`` in the
  address, or the cookie the page's first answer sets.
"""
from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from ..errors import UserError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> str:
    """A host the server can bind: an address, or a name that resolves (one line otherwise)."""
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        raise UserError(f"--host {host}: not an address or a name this machine resolves") from None
    return host


def choose_token(host: str, token: str | None) -> str | None:
    """The token to require: the one given, a new one for a non-loopback host, else none."""
    if token is not None:
        if len(token) < 8 or not token.isascii() or not token.isprintable() or any(c in token for c in " ;&=#%"):
            raise UserError("--token: at least 8 printable characters, no spaces or ; & = # %")
        return token
    return None if is_loopback(host) else secrets.token_urlsafe(16)


def cookie_name(port: int) -> str:
    return f"stylecam_token_{port}"       # per port: two servers on one machine keep their own


def token_ok(expected: str | None, path: str, cookie_header: str | None, port: int) -> bool:
    if expected is None:
        return True
    given = parse_qs(urlsplit(path).query).get("token", [None])[0]
    if given is None and cookie_header:
        morsel = SimpleCookie(cookie_header).get(cookie_name(port))
        given = morsel.value if morsel else None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def host_ok(bound: str, port: int, host_header: str | None) -> bool:
    """Bound to loopback: the Host header must name a loopback address and this port."""
    if not is_loopback(bound):
        return True
    if not host_header:
        return False
    name, _, given_port = host_header.rpartition(":")
    return given_port == str(port) and is_loopback(name.strip("[]"))


def origin_ok(origin: str | None, host_header: str | None) -> bool:
    """A WebSocket opened by this server's own page (or by a client that is not a browser)."""
    if origin is None:
        return True
    return urlsplit(origin).netloc == host_header
