"""HTTP API: native ``/v1`` routes and Dodo-Payments-compatible routes over one Store."""

from .app import create_app

__all__ = ["create_app"]
