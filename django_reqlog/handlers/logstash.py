"""Logstash over TCP (json_lines), UDP or HTTP (acknowledged batches)."""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import select
import socket
import ssl
from typing import Any

from .base import ShipperHandler, check_bool, check_str, check_str_pair
from .spool import Item
from .transport import SendResult

TRANSPORTS = ("tcp", "udp", "http")
# Largest payload of a single UDP datagram over IPv4.
MAX_UDP_PAYLOAD = 65507


def make_ssl_context(
    *, ca_certs: str | None, verify_certs: bool, certfile: str | None, keyfile: str | None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_certs)
    if not verify_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    return context


class TCPTransport:
    """Newline-delimited JSON on a kept-open stream, as python-logstash sends it.

    TCP gives no application-level acknowledgement: a batch the kernel
    accepted counts as sent. Use the HTTP transport for acknowledged delivery.
    """

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None) -> None:
        self.host, self.port, self.context = host, port, context
        self.target = f"tcp://{host}:{port}"
        self.sock: socket.socket | None = None

    def _connection(self, timeout: float) -> socket.socket:
        sock = self.sock
        if sock is not None and _peer_closed(sock):
            self.close()
            sock = None
        if sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
            if self.context is not None:
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
            self.sock = sock
        sock.settimeout(timeout)
        return sock

    def send(self, items: list[Item], timeout: float) -> SendResult:
        data = b"".join(payload + b"\n" for _, payload in items)
        sock = self._connection(timeout)
        try:
            sock.sendall(data)
        except OSError:
            self.close()
            raise
        return SendResult()

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None

    def abort(self) -> None:
        """Called from another thread: shutdown() wakes a blocked sendall()."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _peer_closed(sock: socket.socket) -> bool:
    """True if Logstash closed the connection (readable with nothing to read).

    Without this the first batch after a Logstash restart would be written
    into a dead socket and lost.
    """
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        if isinstance(sock, ssl.SSLSocket):
            return sock.recv(1) == b""
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class UDPTransport:
    """One datagram per event: fire and forget (no delivery guarantee at all)."""

    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, port)
        self.target = f"udp://{host}:{port}"
        self.sock: socket.socket | None = None

    def send(self, items: list[Item], timeout: float) -> SendResult:
        if self.sock is None:
            family = socket.getaddrinfo(*self.addr, type=socket.SOCK_DGRAM)[0][0]
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        result = SendResult()
        for index, (_, payload) in enumerate(items):
            if len(payload) > MAX_UDP_PAYLOAD:
                result.failed.append(
                    (index, f"event of {len(payload)} bytes exceeds a UDP datagram")
                )
                continue
            self.sock.sendto(payload, self.addr)
        return result

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class HTTPTransport:
    """A JSON array per batch to Logstash's ``http`` input, which answers once queued."""

    def __init__(
        self,
        host: str,
        port: int,
        context: ssl.SSLContext | None,
        path: str,
        basic_auth: tuple[str, str] | None,
    ) -> None:
        self.host, self.port, self.context, self.path = host, port, context, path
        scheme = "https" if context is not None else "http"
        self.target = f"{scheme}://{host}:{port}{path}"
        self.headers = {"Content-Type": "application/json"}
        if basic_auth is not None:
            token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.conn: http.client.HTTPConnection | None = None

    def send(self, items: list[Item], timeout: float) -> SendResult:
        body = b"[" + b",".join(payload for _, payload in items) + b"]"
        if self.conn is None:
            if self.context is not None:
                self.conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=timeout, context=self.context
                )
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        self.conn.timeout = timeout
        try:
            self.conn.request("POST", self.path, body=body, headers=self.headers)
            response = self.conn.getresponse()
            detail = response.read(512)
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        status = response.status
        if 200 <= status < 300:
            return SendResult()
        if status in (408, 429) or status >= 500:
            raise ConnectionError(f"HTTP {status} from {self.target}")
        reason = f"HTTP {status}: {detail.decode('utf-8', 'replace')[:200]}"
        return SendResult(failed=[(i, reason) for i in range(len(items))])

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not 0 < port < 65536:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    return port


class LogstashHandler(ShipperHandler):
    """Ship records to Logstash from a worker thread, spooling through outages.

    ``LogstashHandler("127.0.0.1", 5959)`` speaks the same TCP ``json_lines``
    wire format as python-logstash's ``TCPLogstashHandler``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        transport: str = "tcp",
        *,
        tls: bool = False,
        ca_certs: str | None = None,
        verify_certs: bool = True,
        certfile: str | None = None,
        keyfile: str | None = None,
        http_path: str = "/",
        basic_auth: tuple[str, str] | list[str] | None = None,
        **options: Any,
    ) -> None:
        self.host = check_str("host", host) or ""
        self.port = _port(port)
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}; got {transport!r}")
        self.transport = transport
        self.tls = check_bool("tls", tls)
        if self.tls and transport == "udp":
            raise ValueError("tls is not available with the udp transport")
        self.ca_certs = check_str("ca_certs", ca_certs, optional=True)
        self.verify_certs = check_bool("verify_certs", verify_certs)
        self.certfile = check_str("certfile", certfile, optional=True)
        self.keyfile = check_str("keyfile", keyfile, optional=True)
        self.http_path = check_str("http_path", http_path) or "/"
        if not self.http_path.startswith("/"):
            raise ValueError("http_path must start with '/'")
        self.basic_auth = None
        if basic_auth is not None:
            self.basic_auth = check_str_pair(
                basic_auth, "basic_auth must be a (username, password) pair of str"
            )
            if transport != "http":
                raise ValueError("basic_auth needs the http transport")
        scheme = {"tcp": "tcp", "udp": "udp", "http": "http"}[transport]
        if self.tls:
            scheme = {"tcp": "tls", "http": "https"}[transport]
        self.target = f"{scheme}://{self.host}:{self.port}"
        self.spool_key = f"logstash-{scheme}-{self.host}-{self.port}"
        options.setdefault("batch_size", 200)
        super().__init__(**options)

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        return make_ssl_context(
            ca_certs=self.ca_certs,
            verify_certs=self.verify_certs,
            certfile=self.certfile,
            keyfile=self.keyfile,
        )

    def _make_transport(self) -> TCPTransport | UDPTransport | HTTPTransport:
        if self.transport == "udp":
            return UDPTransport(self.host, self.port)
        if self.transport == "http":
            return HTTPTransport(
                self.host, self.port, self._ssl_context(), self.http_path, self.basic_auth
            )
        return TCPTransport(self.host, self.port, self._ssl_context())

    def _default_formatter(self) -> logging.Formatter:
        from django_reqlog.formatters import LogstashFormatter

        return LogstashFormatter()
