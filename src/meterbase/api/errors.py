"""Error responses: every failure is JSON ``{"code", "message", "field"}`` with a 4xx/5xx status."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import MeterbaseError

log = logging.getLogger("meterbase.api")


def error_response(status: int, code: str, message: str, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "field": field}, status_code=status, headers=headers)


def _field(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(MeterbaseError)
    async def _domain(_request: Request, exc: MeterbaseError):
        return error_response(exc.status, exc.code, exc.message, exc.field, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        errs = exc.errors()
        first = errs[0] if errs else {"loc": ("body",), "msg": "invalid request"}
        return error_response(422, "validation_error", str(first.get("msg")), _field(first.get("loc", ())))

    @app.exception_handler(orjson.JSONDecodeError)
    async def _json(_request: Request, exc: orjson.JSONDecodeError):
        return error_response(400, "invalid_json", f"request body is not valid JSON: {exc}", "body")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        return error_response(exc.status_code, "http_error", str(exc.detail), None, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):  # pragma: no cover - defensive
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; nothing was acknowledged", None)
