"""What the dashboard shows from modules that may not exist yet: billing, policy, live sessions.

Each section asks one function here. Until its module is wired in, the function returns ``[]`` /
``None`` and the page renders an empty state saying what to set up. Wiring a module is a few lines:
give it a ``dashboard_provider`` module exposing any of the functions below with the same
signature (e.g. ``meterbase/billing/dashboard_provider.py`` defining ``recent_invoices``), or call
:func:`register` at import time. Providers may return dataclasses or dicts with these fields
(templates read either):

* invoice: ``id, customer_id, status, currency, total, period_start, period_end, issued_at``
  (instants as ISO strings or µs ints), ``lines`` = list of ``description, quantity, unit_price, amount``
* plan: ``name, id, status, current_period_start, current_period_end``
* entitlement: ``name, unit, used, limit, remaining, resets_at`` (decimals as strings; ``limit`` None = unlimited)
* live session: ``id, started_at, last_seen_at, description``

A provider that raises (module half-installed, table missing) is logged and treated as empty, so
a dashboard page never fails because of it.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

log = logging.getLogger("meterbase.dashboard")

#: section -> module whose ``dashboard_provider`` submodule is asked (first that imports wins)
_MODULES = {
    "billing": ("meterbase.billing.dashboard_provider",),
    "policy": ("meterbase.policy.dashboard_provider",),
    "sessions": ("meterbase.sessions.dashboard_provider", "meterbase.policy.dashboard_provider"),
}
_FUNCTIONS = {
    "recent_invoices": "billing",  # (store, environment, limit, customer_id=None) -> list[invoice]
    "get_invoice": "billing",  # (store, environment, invoice_id) -> invoice | None
    "upcoming_invoice": "billing",  # (store, environment, customer_id) -> invoice | None
    "customer_plan": "billing",  # (store, environment, customer_id) -> plan | None
    "entitlements": "policy",  # (store, environment, customer_id) -> list[entitlement]
    "live_sessions": "sessions",  # (store, environment, customer_id) -> list[live session]
}
_registered: dict[str, Callable[..., Any]] = {}


def register(name: str, fn: Callable[..., Any]) -> None:
    """Plug a provider function in (``name`` is one of the functions of this module)."""
    if name not in _FUNCTIONS:
        raise ValueError(f"unknown dashboard provider {name!r}; expected one of {sorted(_FUNCTIONS)}")
    _registered[name] = fn


def _lookup(name: str) -> Callable[..., Any] | None:
    if name in _registered:
        return _registered[name]
    for module in _MODULES[_FUNCTIONS[name]]:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        fn = getattr(mod, name, None)
        if callable(fn):
            return fn
    return None


def available(section: str) -> bool:
    """Whether any function of ``section`` (billing | policy | sessions) is wired."""
    return any(_lookup(n) is not None for n, s in _FUNCTIONS.items() if s == section)


def _call(name: str, default, *args):
    fn = _lookup(name)
    if fn is None:
        return default
    try:
        result = fn(*args)
    except Exception:  # noqa: BLE001 - a half-wired module must not break the page
        log.exception("dashboard provider %s failed; showing an empty state", name)
        return default
    return default if result is None else result


def recent_invoices(store, environment: str, limit: int = 10, customer_id: str | None = None) -> list:
    return list(_call("recent_invoices", [], store, environment, limit, customer_id))


def get_invoice(store, environment: str, invoice_id: str):
    return _call("get_invoice", None, store, environment, invoice_id)


def upcoming_invoice(store, environment: str, customer_id: str):
    return _call("upcoming_invoice", None, store, environment, customer_id)


def customer_plan(store, environment: str, customer_id: str):
    return _call("customer_plan", None, store, environment, customer_id)


def entitlements(store, environment: str, customer_id: str) -> list:
    return list(_call("entitlements", [], store, environment, customer_id))


def live_sessions(store, environment: str, customer_id: str) -> list:
    return list(_call("live_sessions", [], store, environment, customer_id))
