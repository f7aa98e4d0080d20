"""Domain errors shared by every layer; the API maps them to HTTP statuses."""

from __future__ import annotations


class MeterbaseError(Exception):
    """Base class. ``field`` names the offending input (dotted path) when there is one."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "field": self.field}


class ValidationError(MeterbaseError):
    status = 422
    code = "validation_error"


class NotFound(MeterbaseError):
    status = 404
    code = "not_found"


class Conflict(MeterbaseError):
    status = 409
    code = "conflict"


class Unauthorized(MeterbaseError):
    status = 401
    code = "unauthorized"


class Forbidden(MeterbaseError):
    status = 403
    code = "forbidden"


class Backlogged(MeterbaseError):
    """Too much waits for a background worker (the folder): nothing was done; retry after ``retry_after`` s."""

    status = 429
    code = "ingest_backlog"

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message, "events")
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}
