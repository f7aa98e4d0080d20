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
