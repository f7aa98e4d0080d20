"""The dashboard's customer pages: billing customers (name, email, product, current period, amount
due so far) and customers seen only in events; one customer's account, usage, limits, live sessions,
credits and invoices. Each section of the customer page comes from its domain's provider; a section whose
provider fails says so in place (the rest of the page still renders).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request

from ..storage import dashboard_queries as q
from . import providers
from .pages import MODE_LABELS, not_found, render
from .session import UiSession, page_session
from .views import DAY_US, chart_payload, day_floor, month_start

log = logging.getLogger("meterbase.dashboard")
router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def usage_json(u) -> dict:
    from ..api.serialize import usage_json as f

    return f(u)


def section(name: str, fn, *args):
    """``(value, error)``: a provider's answer, or the error to show in that section."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - shown in its section, logged with the traceback
        log.exception("dashboard section %s failed", name)
        return None, f"{type(exc).__name__}: {exc}"


@router.get("/ui/customers")
def customers_page(request: Request, search: str = "", page: int = 0, tab: str = "billing",
                   s: UiSession = Depends(page_session)):
    store, env = request.app.state.store, s.environment
    page, search = max(page, 0), search.strip()
    billing, error = section("billing", providers.of(request).billing.accounts, store, env, search or None,
                             PER_PAGE, page * PER_PAGE)
    if tab != "events" and billing is not None and billing["total"] == 0 and not search:
        tab = "events"  # no billing customers yet: show who sends events
    rows, more = [], False
    if tab == "events":
        with store.read() as conn:
            rows = q.customers(conn, env, PER_PAGE + 1, page * PER_PAGE, search or None)
        more, rows = len(rows) > PER_PAGE, rows[:PER_PAGE]
    elif billing is not None:
        more = (page + 1) * PER_PAGE < billing["total"]
    return render(request, "customers.html", s, active="customers", tab=tab, billing=billing, error=error,
                  rows=rows, more=more, page=page, search=search)


@router.get("/ui/customers/{customer_id:path}")
def customer_page(request: Request, customer_id: str, s: UiSession = Depends(page_session)):
    store, env = request.app.state.store, s.environment
    wired = providers.of(request)
    with store.read() as conn:
        row = q.customer(conn, env, customer_id)
        names = q.customer_event_names(conn, env, customer_id) if row else []
    account, account_error = section("billing", wired.billing.account, store, env, customer_id)
    ents, ents_error = section("policy", wired.policy.entitlements, store, env, customer_id)
    if row is None and account is None and not ents and not account_error:
        return not_found(request, s, "Customer not found",
                         f"No customer {customer_id!r} in {MODE_LABELS[env].lower()}: no billing record, no events.",
                         "customers")
    invoices, invoices_error = section("billing", wired.billing.customer_invoices, store, env, customer_id)
    sessions, sessions_error = section("sessions", wired.sessions.live_sessions, store, env, customer_id)
    credits, credits_error = section("credits", wired.credits.balances, store, env, customer_id)
    now = store.now()
    period_from, period_to = month_start(now), now + 1
    chart_from = day_floor(now) - 29 * DAY_US
    usage, meters = [], store.list_meters(env, None, 1000)
    units = {m.id: m.spec.measurement_unit for m in meters}
    for m in (m for m in meters if not m.archived):
        month = usage_json(store.usage(env, m.id, period_from, period_to, "month", "UTC", customer_id))
        daily = store.usage(env, m.id, chart_from, period_to, "day", "UTC", customer_id)
        row_m = month["data"][0] if month["data"] else {"value": None, "events": 0, "rejected": 0}
        usage.append({"meter": m, "value": row_m["value"], "events": row_m["events"], "rejected": row_m["rejected"],
                      "chart": chart_payload(daily)})
    usage.sort(key=lambda x: (x["events"] == 0, x["meter"].spec.name.lower()))
    return render(
        request, "customer.html", s, active="customers", customer_id=customer_id, row=row, names=names,
        account=account, account_error=account_error, entitlements=ents or [], entitlements_error=ents_error,
        sessions=sessions or [], sessions_error=sessions_error, invoices=invoices or [],
        invoices_error=invoices_error, usage=usage, period_from=period_from, period_to=period_to, units=units,
        credits=credits, credits_error=credits_error,
    )
