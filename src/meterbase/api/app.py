"""The HTTP API: settings, the store, error handlers, routers, and its documentation (``api.docs``).

``build_api`` assembles the API alone; the whole server (API + dashboard + each domain's dashboard
provider) is assembled by the composition root, ``meterbase.app.create_app``. ``create_app`` and
``create_app_from_env`` here are that root's, kept under their old names.
"""

from __future__ import annotations

from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..storage import Store, open_store
from . import docs, errors
from .auth import KeyCache
from .error_docs import BODY_TOO_LARGE, REQUEST_TIMEOUT
from .guards import BodyLimit, RejectNulInUrl
from .ratelimit import RateLimiter
from .schemas import ERROR_RESPONSES, Health
from .routes import dodo, native, policy
from .routes import billing, dodo_billing, security
from .routes import sessions as sessions_routes
from .routes import credits_api


def build_api(store: Store | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    store = store or open_store(settings.database_url)
    store.enable_group_commit()  # concurrent ingest requests share transactions (acked after commit)
    app = FastAPI(
        title="meterbase",
        version=__version__,
        description="Usage metering, limits and billing. Native API under /v1; Dodo-compatible routes at the root. "
                    "Authenticate with `Authorization: Bearer <API key>` (the Authorize button). Money is exact "
                    "decimal text in major units (`\"30.00\"`) on /v1 and integer minor units on the Dodo routes.",
        responses={**ERROR_RESPONSES, **REQUEST_TIMEOUT, **BODY_TOO_LARGE},  # any route may answer these
        docs_url=None, redoc_url=None,  # served by api.docs from packaged assets (no CDN)
    )
    app.state.store = store
    app.state.settings = settings
    app.state.key_cache = KeyCache()
    app.state.rate_limiter = RateLimiter(settings.rate_limit_rps, settings.rate_limit_burst)
    app.state.auth_failures = RateLimiter(settings.auth_failure_rps, settings.auth_failure_burst)
    if settings.fold_interval > 0:  # a serving process folds events into rollups (storage.fold), off the ack path
        app.router.on_startup.append(lambda: store.start_folder(settings.fold_interval))
    if settings.fold_interval > 0 or settings.folder_process:  # a folder drains the tail: bound it (storage.backlog)
        store.bound_backlog(settings.max_unfolded)
    errors.install(app)
    docs.install(app)
    app.add_middleware(RejectNulInUrl)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, read_timeout=settings.body_read_timeout)  # outermost

    @app.get("/healthz", tags=["ops"], response_model=Health, openapi_extra=docs.PUBLIC,
             summary="Liveness: the server answers (no token needed)")
    def healthz():
        return {"status": "ok", "version": __version__}

    app.include_router(policy.router)  # first: routes are matched in order, and check is the latency-critical call
    app.include_router(native.router)
    app.include_router(dodo.router)
    app.include_router(billing.router)
    app.include_router(dodo_billing.router)
    app.include_router(security.router)
    app.include_router(sessions_routes.router)  # live sessions (seed 004)
    app.include_router(credits_api.router)  # credits, Dodo credit entitlements, customer wallets
    return app


def create_app(store: Store | None = None, settings: Settings | None = None) -> FastAPI:
    """The whole server (``meterbase.app.create_app``: API, dashboard and its providers)."""
    from ..app import create_app as assemble

    return assemble(store, settings)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several workers each build their own app)."""
    return create_app()
