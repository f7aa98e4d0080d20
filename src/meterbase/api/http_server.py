"""How long a client may take, at the connection level (``meterbase serve`` runs uvicorn with these).

Three bounds keep a slow or silent client ("slow loris") from holding a worker's connections and memory:

* **headers**: the request line and headers must arrive within ``MB_HEADER_TIMEOUT`` seconds (default
  10) of the connection opening, or of the first byte of the next request on a kept-alive connection;
  past it the server answers ``408`` and closes the connection. Their size is bounded by the HTTP
  parser (httptools; h11's ``h11_max_incomplete_event_size``, set to 16 KiB, when httptools is absent).
* **idle keep-alive**: a connection without a request is closed after ``KEEP_ALIVE_TIMEOUT`` seconds.
* **body**: ``api.guards.BodyLimit`` -- the whole body within ``MB_BODY_READ_TIMEOUT`` seconds (408).
"""

from __future__ import annotations

import os

KEEP_ALIVE_TIMEOUT = 5
MAX_INCOMPLETE_EVENT = 16 * 1024
DEFAULT_HEADER_TIMEOUT = 10.0
PROTOCOL = "meterbase.api.http_server:HeaderTimeoutProtocol"
_TIMEOUT_REPLY = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                  b"content-length: %d\r\n\r\n%s")


def header_timeout() -> float:
    return float(os.environ.get("MB_HEADER_TIMEOUT") or DEFAULT_HEADER_TIMEOUT)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - uvicorn[standard] ships httptools; h11 gets the size limit only
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base


class HeaderTimeoutProtocol(_Base):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol with a deadline for the request line and headers."""

    _header_timer = None

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(header_timeout(), self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            body = (b'{"code": "request_timeout", "field": null, "message": "request headers not received within '
                    b'MB_HEADER_TIMEOUT (%g s)"}' % header_timeout())
            self.transport.write(_TIMEOUT_REPLY % (len(body), body))
            self.transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:  # the first byte of a request (httptools callback)
        self._arm()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()


def uvicorn_settings() -> dict:
    """Keyword arguments for ``uvicorn.run`` that apply the bounds above."""
    return {"http": PROTOCOL, "timeout_keep_alive": KEEP_ALIVE_TIMEOUT,
            "h11_max_incomplete_event_size": MAX_INCOMPLETE_EVENT}
