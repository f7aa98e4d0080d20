"""What the dashboard shows of each domain: one *provider* module per section, wired explicitly.

The composition root (``meterbase.app``) names one module per section and calls :func:`load` at
start. A section whose module is missing, fails to import, or lacks one of the functions below
stops the server with a :class:`ProviderError` naming the section, the module and what is wrong —
never an empty page. The loaded :class:`Providers` live on ``app.state.dashboard_providers``.

Sections and the functions their module defines (each takes ``(store, environment, …)``):

* ``billing`` (``meterbase.invoicing.dashboard_provider``): ``list_invoices``, ``get_invoice``,
  ``accounts``, ``account``, ``customer_invoices``, ``products``, ``money``, ``finalize``, ``void``.
* ``policy``: ``entitlements(store, env, customer_id)`` -> ``[{name, unit, used, limit, remaining,
  resets_at}]`` (decimals as strings; ``limit`` None = unlimited).
* ``sessions``: ``live_sessions(store, env, customer_id)`` -> ``[{id, started_at, last_seen_at, description}]``.
* ``credits`` (``meterbase.credits.dashboard_provider``): ``balances(store, env, customer_id)`` ->
  ``{"balances": [{entitlement, balance, overage, grants, ledger, …}], "wallets": [...]}``.

A new domain adds a section here and its module in the composition root; the customer page renders
sections in order (one more provider and one more ``<section>``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from fastapi import Request

SECTIONS: dict[str, tuple[str, ...]] = {
    "billing": ("list_invoices", "get_invoice", "accounts", "account", "customer_invoices", "products", "money",
                "finalize", "void"),
    "policy": ("entitlements",),
    "sessions": ("live_sessions",),
    "credits": ("balances",),
}


class ProviderError(RuntimeError):
    """A dashboard section cannot be wired: the server must not start."""


@dataclass(frozen=True)
class Providers:
    """The loaded provider module of every section (attribute per section)."""

    billing: Any
    policy: Any
    sessions: Any
    credits: Any


def _load_one(section: str, module: str | ModuleType) -> ModuleType:
    if isinstance(module, ModuleType):
        mod = module
    else:
        try:
            mod = importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - reported with what the operator needs to know
            raise ProviderError(f"dashboard section {section!r}: its provider module {module!r} failed to import "
                                f"({type(exc).__name__}: {exc}); the server cannot start without it") from exc
    missing = [name for name in SECTIONS[section] if not callable(getattr(mod, name, None))]
    if missing:
        raise ProviderError(f"dashboard section {section!r}: provider module {mod.__name__!r} lacks "
                            f"{', '.join(missing)}; the server cannot start without it")
    return mod


def load(modules: dict[str, str | ModuleType]) -> Providers:
    """Import and check the provider of every section (``modules``: section -> module or its name)."""
    unknown = sorted(set(modules) - set(SECTIONS))
    missing = sorted(set(SECTIONS) - set(modules))
    if unknown or missing:
        raise ProviderError(f"dashboard providers: unknown sections {unknown}, unwired sections {missing}")
    return Providers(**{section: _load_one(section, module) for section, module in modules.items()})


def of(request: Request) -> Providers:
    """The providers of the app serving ``request``."""
    found = getattr(request.app.state, "dashboard_providers", None)
    if found is None:
        raise ProviderError("the dashboard was mounted without its providers (see meterbase.app.create_app)")
    return found


# -- the default wiring, for code outside a request (tests, scripts) --------------------------------
_default: Providers | None = None


def default() -> Providers:
    """The providers the composition root wires (``meterbase.app.DASHBOARD_PROVIDERS``), loaded once."""
    global _default
    if _default is None:
        from ..app import DASHBOARD_PROVIDERS

        _default = load(DASHBOARD_PROVIDERS)
    return _default


def available(section: str) -> bool:
    """Whether ``section`` is wired (every section is, or the server would not have started)."""
    return section in SECTIONS and getattr(default(), section) is not None


def entitlements(store, environment: str, customer_id: str) -> list:
    return list(default().policy.entitlements(store, environment, customer_id))


def live_sessions(store, environment: str, customer_id: str) -> list:
    return list(default().sessions.live_sessions(store, environment, customer_id))
