"""Application factory: wires settings, the store, error handlers and routers."""

from __future__ import annotations

from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..storage import Store, open_store
from . import errors
from ..dashboard.routes import router as dashboard_router
from .auth import KeyCache
from .guards import BodyLimit, RejectNulInUrl
from .ratelimit import RateLimiter
from .schemas import ERROR_RESPONSES
from .routes import dodo, native, policy
from .routes import billing, dodo_billing, security
from .routes import sessions as sessions_routes
from .routes import credits_api


def create_app(store: Store | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    store = store or open_store(settings.database_url)
    store.enable_group_commit()  # concurrent ingest requests share transactions (acked after commit)
    app = FastAPI(
        title="meterbase",
        version=__version__,
        description="Usage metering, limits and billing. Native API under /v1; Dodo-compatible routes at the root.",
        responses=ERROR_RESPONSES,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.key_cache = KeyCache()
    app.state.rate_limiter = RateLimiter(settings.rate_limit_rps, settings.rate_limit_burst)
    app.state.auth_failures = RateLimiter(settings.auth_failure_rps, settings.auth_failure_burst)
    errors.install(app)
    app.add_middleware(RejectNulInUrl)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, read_timeout=settings.body_read_timeout)  # outermost

    @app.get("/healthz", tags=["ops"])
    def healthz():
        return {"status": "ok", "version": __version__}

    app.include_router(policy.router)  # first: routes are matched in order, and check is the latency-critical call
    app.include_router(native.router)
    app.include_router(dodo.router)
    app.include_router(dashboard_router)  # web dashboard under /ui
    app.include_router(billing.router)
    app.include_router(dodo_billing.router)
    app.include_router(security.router)
    app.include_router(sessions_routes.router)  # live sessions (seed 004)
    app.include_router(credits_api.router)  # credits, Dodo credit entitlements, customer wallets
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several workers each build their own app)."""
    return create_app()
