"""ASGI guards that run before any route, dependency or body parser sees a request.

* :class:`BodyLimit` reads the request body itself, before authentication and before FastAPI or
  pydantic parse anything: a ``Content-Length`` above ``MB_MAX_BODY_BYTES`` is refused at once, a
  chunked (or undeclared) body as soon as it grows past the limit -- ``413 payload_too_large`` naming
  the bound, and the connection is closed. The whole body must arrive within ``MB_BODY_READ_TIMEOUT``
  seconds (default 30; a slow-loris upload holds a worker's memory and a connection that long at
  most) or the answer is ``408 request_timeout``. The route then reads the buffered body.
* :class:`RejectNulInUrl`: a NUL (``%00``) in a path or query parameter would reach SQL as text that
  PostgreSQL cannot hold (an error, not an answer); refusing it here gives the same clear 422 on every
  backend and every route.
"""

from __future__ import annotations

import asyncio

import orjson


async def send_error(send, status: int, code: str, message: str, field: str | None, close: bool = False) -> None:
    """Answer with meterbase's error body ``{code, message, field}`` (and ``Connection: close`` if asked)."""
    body = orjson.dumps({"code": code, "field": field, "message": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class BodyLimit:
    def __init__(self, app, max_bytes: int, read_timeout: float):
        self.app, self.max_bytes, self.read_timeout = app, int(max_bytes), float(read_timeout)

    def _too_large(self) -> str:
        return f"request body exceeds MB_MAX_BODY_BYTES ({self.max_bytes:,} bytes); nothing was done"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None:
            if not declared.strip().isdigit():
                await send_error(send, 400, "bad_request", "Content-Length must be a byte count", "content-length", True)
                return
            if int(declared) > self.max_bytes:
                await send_error(send, 413, "payload_too_large", self._too_large(), "body", True)
                return
        try:
            async with asyncio.timeout(self.read_timeout):
                body = await self._read(receive)
        except _TooLarge:
            await send_error(send, 413, "payload_too_large", self._too_large(), "body", True)
            return
        except TimeoutError:
            await send_error(send, 408, "request_timeout",
                             f"request body not received within MB_BODY_READ_TIMEOUT ({self.read_timeout:g} s)",
                             "body", True)
            return
        except _Disconnected:
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: waits for the client to disconnect, as before

        await self.app(scope, replay, send)

    async def _read(self, receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self.max_bytes:
                    raise _TooLarge
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class RejectNulInUrl:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            where = "path" if "\x00" in scope.get("path", "") else (
                "query" if b"%00" in scope.get("query_string", b"") else None)
            if where is not None:
                await send_error(send, 422, "validation_error",
                                 f"NUL (%00) characters are not accepted in the URL {where}", where)
                return
        await self.app(scope, receive, send)
