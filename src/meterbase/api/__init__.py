"""HTTP API (a surface): native ``/v1`` routes and Dodo-Payments-compatible routes over one Store.

``app`` builds the FastAPI application (error handlers, routers, offline ``/docs``); ``routes/`` holds the
routers per domain; ``*schemas.py`` the Pydantic request/response models that document ``/openapi.json``
(the pure core still parses every body); ``auth``, ``guards`` and ``ratelimit`` decide who may call;
``serialize`` shapes domain objects as JSON.
"""

from .app import create_app

__all__ = ["create_app"]
