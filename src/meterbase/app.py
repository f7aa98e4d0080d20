"""Composition root: assembles the whole server — the HTTP API, the web dashboard, and the
dashboard provider of every domain, each registered explicitly.

``DASHBOARD_PROVIDERS`` names one module per dashboard section. They are imported and checked
before anything else (``dashboard.providers.load``): a module that is missing, fails to import or
lacks a function stops the server at start with a message naming it (``ProviderError``), instead
of a dashboard that silently shows empty states. ``meterbase serve`` runs ``create_app_from_env``
in each worker; tests and embedders call ``create_app(store, settings)`` (also importable as
``meterbase.api.create_app``).
"""

from __future__ import annotations

from types import ModuleType

from fastapi import FastAPI

from .config import Settings
from .storage import Store

#: dashboard section -> the module providing it (see ``dashboard.providers.SECTIONS``)
DASHBOARD_PROVIDERS: dict[str, str] = {
    "billing": "meterbase.invoicing.dashboard_provider",
    "policy": "meterbase.policy.dashboard_provider",
    "sessions": "meterbase.sessions.dashboard_provider",
    "credits": "meterbase.credits.dashboard_provider",
}


def create_app(store: Store | None = None, settings: Settings | None = None,
               providers: dict[str, str | ModuleType] | None = None) -> FastAPI:
    """The API (``api.app.build_api``) plus the dashboard under ``/ui`` with its providers."""
    from .api.app import build_api
    from .dashboard import providers as dashboard
    from .dashboard.routes import router as dashboard_router

    wired = dashboard.load(DASHBOARD_PROVIDERS if providers is None else providers)  # fails before any I/O
    app = build_api(store, settings)
    app.state.dashboard_providers = wired
    app.include_router(dashboard_router)  # web dashboard under /ui
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker builds its own app, and runs the credit deduction
    consumer every ``MB_CREDIT_DEDUCT_INTERVAL`` seconds: default 1, 0 turns it off)."""
    import os

    from .credits.metered import DeductionWorker

    app = create_app()
    interval = float(os.environ.get("MB_CREDIT_DEDUCT_INTERVAL", "1"))
    if interval > 0:
        app.state.credit_deductions = DeductionWorker(app.state.store, interval).start()
    return app
