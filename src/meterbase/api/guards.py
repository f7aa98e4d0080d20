"""ASGI guard: refuse URLs carrying NUL characters before any route sees them.

A NUL (``%00``) in a path or query parameter would reach SQL as text that PostgreSQL cannot hold (an
error, not an answer); refusing it here gives the same clear 422 on every backend and every route.
"""

from __future__ import annotations

import orjson


class RejectNulInUrl:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            where = "path" if "\x00" in scope.get("path", "") else (
                "query" if b"%00" in scope.get("query_string", b"") else None)
            if where is not None:
                body = orjson.dumps({"code": "validation_error", "field": where,
                                     "message": f"NUL (%00) characters are not accepted in the URL {where}"})
                await send({"type": "http.response.start", "status": 422,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
