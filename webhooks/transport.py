"""One webhook POST: to a checked address, within one deadline, keeping only a short status.

- **Pinned address.** The URL's host is resolved once, every address is checked (addresses.py),
  and the connection goes to the checked address: the host name is never resolved again, so a
  DNS answer that changes between the check and the connection (rebinding) changes nothing. The
  ``Host`` header and, for https, the TLS server name (SNI) and certificate check still use the
  name in the URL.
- **One deadline per attempt.** A socket timeout bounds each read, not the whole exchange: a
  receiver sending a header line every few seconds kept an attempt open for minutes. A timer
  shuts the socket down when the attempt's deadline passes, whatever it is waiting for.
- **No echo.** The receiver's body is never read into the delivery log; an attempt keeps its
  status code and a short class of outcome (``HTTP 503 (server error)``, ``timed out``,
  ``connection refused``...), so the log cannot be used to read what an internal service answers.

The standard library's http.client only: no third-party HTTP client is a pinned dependency.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .addresses import HostRefused, IPAddress, public_addresses, resolve

# A Retry-After longer than this is not honoured (services.py uses the backoff's own delay).
MAX_RETRY_AFTER_SECONDS = 6 * 3600
# Outcome classes stored in the log (WebhookAttempt.response, WebhookDelivery.last_response).
TIMED_OUT = "timed out"
REFUSED = "connection refused"
CONNECTION_FAILED = "connection failed"
DNS_FAILED = "host name not resolved"
TLS_FAILED = "TLS error"
PROTOCOL_ERROR = "invalid HTTP answer"
BLOCKED = "blocked: the host is not a public address"
INVALID_URL = "invalid URL"


@dataclass(frozen=True)
class HttpAnswer:
    status_code: int | None
    text: str  # the short, non-echoing status stored in the log
    network_error: bool = False
    retry_after: float | None = None


def status_text(code: int) -> str:
    kind = {1: "informational", 2: "success", 3: "redirect, not followed", 4: "client error",
            5: "server error"}.get(code // 100, "unknown")
    return f"HTTP {code} ({kind})"


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value or "")
    except ValueError:
        return None  # an HTTP date, or nothing: use the backoff
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER_SECONDS else None


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to one given address, named by the URL's host for Host and SNI."""

    def __init__(self, host: str, port: int, *, addresses: list[IPAddress], tls: ssl.SSLContext | None,
                 timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses
        self.tls = tls
        if tls is not None:
            self.default_port = http.client.HTTPS_PORT  # no ":443" in the Host header
        self.aborted = False
        self._lock = threading.Lock()

    def _open(self) -> socket.socket:
        # Each checked address in the resolver's order (an IPv6 one may be unreachable).
        error: OSError | None = None
        for address in self.addresses:
            try:
                return socket.create_connection((str(address), self.port), self.timeout)
            except OSError as exc:
                error = exc
                if self.aborted:
                    break
        raise error or OSError(CONNECTION_FAILED)

    def connect(self) -> None:
        sock = self._open()
        with self._lock:
            self.sock = sock
            if self.aborted:
                raise TimeoutError(TIMED_OUT)
        if self.tls is not None:
            # Handshake after self.sock is the TLS socket, so the deadline can cut a slow one.
            wrapped = self.tls.wrap_socket(sock, server_hostname=self.host, do_handshake_on_connect=False)
            with self._lock:
                self.sock = wrapped
                if self.aborted:
                    raise TimeoutError(TIMED_OUT)
            wrapped.do_handshake()

    def abort(self) -> None:
        """Called by the deadline's timer thread: wake whatever read or write is blocked."""
        with self._lock:
            self.aborted = True
            sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


def post(url: str, body: bytes, headers: Mapping[str, str], *, deadline_seconds: float,
         allow_private: bool = False) -> HttpAnswer:
    """POST ``body`` to ``url`` and return the status, all within ``deadline_seconds``."""
    started = time.monotonic()
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return HttpAnswer(None, INVALID_URL)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return HttpAnswer(None, INVALID_URL)
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = resolve(host, port) if allow_private else public_addresses(host, port)
    except HostRefused:
        return HttpAnswer(None, BLOCKED)
    except (socket.gaierror, UnicodeError):
        return HttpAnswer(None, DNS_FAILED, network_error=True)
    except ValueError:  # not a host name at all
        return HttpAnswer(None, INVALID_URL)
    remaining = deadline_seconds - (time.monotonic() - started)
    if remaining <= 0:
        return HttpAnswer(None, TIMED_OUT, network_error=True)
    tls = ssl.create_default_context() if scheme == "https" else None
    connection = _PinnedConnection(host, port, addresses=addresses, tls=tls, timeout=remaining)
    timer = threading.Timer(remaining, connection.abort)
    timer.daemon = True
    timer.start()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=dict(headers))
        response = connection.getresponse()
        if connection.aborted:
            # Cut off mid-headers: http.client reads the shut socket's end as the end of the
            # headers and would report the status as if the answer were complete.
            return HttpAnswer(None, TIMED_OUT, network_error=True)
        # The body is not read: the status decides the outcome and nothing of it is kept.
        return HttpAnswer(response.status, status_text(response.status),
                          retry_after=_retry_after(response.getheader("Retry-After")))
    except (OSError, http.client.HTTPException) as exc:
        if connection.aborted or isinstance(exc, TimeoutError):
            return HttpAnswer(None, TIMED_OUT, network_error=True)
        if isinstance(exc, ssl.SSLError | ssl.CertificateError):
            return HttpAnswer(None, TLS_FAILED, network_error=True)
        if isinstance(exc, ConnectionRefusedError):
            return HttpAnswer(None, REFUSED, network_error=True)
        if isinstance(exc, http.client.HTTPException) and not isinstance(exc, http.client.RemoteDisconnected):
            return HttpAnswer(None, PROTOCOL_ERROR, network_error=True)
        return HttpAnswer(None, CONNECTION_FAILED, network_error=True)
    finally:
        timer.cancel()
        connection.close()
