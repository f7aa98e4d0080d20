"""The dashboard's billing pages: invoices (list with filters, what needs attention -- periods invoice
runs could not price -- and adjustments of late usage; detail, finalize / void), products, and the
overview's money tiles and revenue chart. Data comes from the ``billing`` provider.

Finalize and void are form posts that change state: they need a session whose key may write, the
session's CSRF token and a same-origin request (the cookie is also ``SameSite=Lax``).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import Conflict, MeterbaseError, NotFound, ValidationError
from ..formatting import fmt_money
from ..storage import audit
from ..timeutil import iso
from . import providers
from .pages import MODE_LABELS, not_found, read_form, render
from .session import UiSession, csrf_ok, page_session

log = logging.getLogger("meterbase.dashboard")
router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def overview_money(request: Request, env: str) -> dict:
    """Money tiles and the revenue chart of the overview (an error is shown, never an empty tile)."""
    billing = providers.of(request).billing
    store = request.app.state.store
    try:
        money = billing.money(store, env)
        recent = billing.list_invoices(store, env, limit=5)["invoices"]
    except Exception as exc:  # noqa: BLE001 - the rest of the overview still renders, and says why
        log.exception("billing overview failed")
        return {"money": None, "money_error": f"{type(exc).__name__}: {exc}", "invoices": [], "revenue": None}
    return {"money": money, "money_error": None, "invoices": recent, "revenue": revenue_chart(money)}


def revenue_chart(money) -> dict | None:
    """Monthly billed revenue of the main currency: finalized, draft, and this month's amount so far."""
    currencies: dict[str, Decimal] = {}
    for m in money.months:
        for cur, per in m.billed.items():
            currencies[cur] = currencies.get(cur, Decimal(0)) + sum(per.values())
    for cur, amount in {**(money.recurring or {}), **(money.usage or {})}.items():
        currencies.setdefault(cur, Decimal(0))
    if not currencies:
        return None
    cur = max(sorted(currencies), key=lambda c: currencies[c])
    so_far = (money.recurring or {}).get(cur, Decimal(0)) + (money.usage or {}).get(cur, Decimal(0))
    last = len(money.months) - 1
    series = [
        {"label": "Finalized", "values": [str(m.billed.get(cur, {}).get("finalized", 0)) for m in money.months]},
        {"label": "Draft", "values": [str(m.billed.get(cur, {}).get("draft", 0)) for m in money.months]},
        {"label": "This period so far (upcoming)", "values": [str(so_far) if i == last else "0"
                                                               for i in range(len(money.months))]},
    ]
    return {"labels": [iso(m.start) for m in money.months], "series": series, "currency": cur,
            "others": sorted(c for c in currencies if c != cur)}


# -- invoices -------------------------------------------------------------------------------------
@router.get("/ui/invoices")
def invoices_page(request: Request, s: UiSession = Depends(page_session)):
    store, env = request.app.state.store, s.environment
    p = request.query_params
    f = {k: (p.get(k) or "").strip() for k in ("status", "customer_id", "period")}
    try:
        page = max(0, int(p.get("page") or 0))
    except ValueError:
        page = 0
    error, found = None, {"invoices": [], "total": 0, "attention": [], "pending": []}
    try:
        found = providers.of(request).billing.list_invoices(store, env, f["status"] or None, f["customer_id"] or None,
                                                            f["period"] or None, PER_PAGE, page * PER_PAGE)
    except ValidationError as exc:
        error = exc.message
    args = {k: v for k, v in f.items() if v}
    prev_url = "/ui/invoices?" + urlencode({**args, "page": page - 1}) if page > 0 else None
    more = (page + 1) * PER_PAGE < found["total"]
    next_url = "/ui/invoices?" + urlencode({**args, "page": page + 1}) if more else None
    return render(request, "invoices.html", s, active="invoices", invoices=found["invoices"], total=found["total"],
                  attention=found.get("attention", []), pending=found.get("pending", []),
                  f=f, error=error, prev_url=prev_url, next_url=next_url, filtered=bool(args))


@router.get("/ui/invoices/{invoice_id}")
def invoice_page(request: Request, invoice_id: str, s: UiSession = Depends(page_session)):
    store, env = request.app.state.store, s.environment
    inv = providers.of(request).billing.get_invoice(store, env, invoice_id)
    if inv is None:
        return not_found(request, s, "Invoice not found",
                         f"There is no invoice {invoice_id!r} in {MODE_LABELS[env].lower()}.", "invoices")
    notice = {"finalized": "Invoice finalized.", "void": "Invoice voided."}.get(request.query_params.get("done", ""))
    return render(request, "invoice.html", s, active="invoices", inv=inv, notice=notice,
                  error=request.query_params.get("error"), can_write=not s.key.read_only)


async def _invoice_action(request: Request, invoice_id: str, s: UiSession, action: str) -> Response:
    form = await read_form(request)
    back = f"/ui/invoices/{invoice_id}"
    if not csrf_ok(request, form.get("csrf")):
        return render(request, "not_found.html", s, 403, title="Refused",
                      message="This form was not sent from this dashboard session (cross-site request refused).",
                      active="invoices")
    if s.key.read_only:
        return render(request, "not_found.html", s, 403, title="Read-only key",
                      message=f"The key {s.key.name!r} is read-only: log in with a writing key to {action} invoices.",
                      active="invoices")
    billing = providers.of(request).billing
    try:
        with audit.acting_as(s.key.id):  # the audit entry names the session's key, as the API does
            inv = await run_in_threadpool(getattr(billing, action), request.app.state.store, s.environment, invoice_id)
    except NotFound:
        return not_found(request, s, "Invoice not found", f"There is no invoice {invoice_id!r}.", "invoices")
    except (Conflict, MeterbaseError) as exc:
        return RedirectResponse(back + "?" + urlencode({"error": exc.message}), status_code=303)
    log.info("dashboard: %s %s by key %s (%s)", action, inv.id, s.key.id, fmt_money(inv.total, inv.currency))
    return RedirectResponse(back + "?" + urlencode({"done": inv.status}), status_code=303)


@router.post("/ui/invoices/{invoice_id}/finalize")
async def finalize_invoice(request: Request, invoice_id: str, s: UiSession = Depends(page_session)):
    return await _invoice_action(request, invoice_id, s, "finalize")


@router.post("/ui/invoices/{invoice_id}/void")
async def void_invoice(request: Request, invoice_id: str, s: UiSession = Depends(page_session)):
    return await _invoice_action(request, invoice_id, s, "void")


# -- products -------------------------------------------------------------------------------------
@router.get("/ui/products")
def products_page(request: Request, s: UiSession = Depends(page_session)):
    found = providers.of(request).billing.products(request.app.state.store, s.environment)
    return render(request, "products.html", s, active="products", products=found)
