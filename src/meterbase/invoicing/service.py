"""``Billing(store)``: products, customers, subscriptions and invoices on top of a Store.

Owns the transactions of billing: what must commit together does (an invoice, its lines and its
``invoice.created`` webhook message; a finalization and ``invoice.finalized``; each change and its
audit entry). A period is priced by ``invoicing.pricer.Pricer`` (meter values over each plan
segment, read on the transaction's own connection so a finalization prices one consistent
snapshot); the invoice run's batching is ``invoicing.run``'s. Pricing and period arithmetic are
the pure core's (``meterbase.billing``, ``meterbase.pricing``); the SQL is the repositories'
(``storage.billing_repo``, ``storage.billing_invoices``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from ..billing.invoice import InvoiceDraft, crossed_thresholds
from ..billing.periods import Period, billing_anchor, period_at
from ..billing.plans import parse_product
from ..billing.subscriptions import parse_customer, parse_subscription, parse_thresholds
from ..credits import products as product_credits
from ..errors import Conflict, NotFound, ValidationError
from ..pricing import UnbillableQuantity
from ..storage import audit, meters_repo
from ..storage import billing_adjustments as adj_repo
from ..storage import billing_invoices as inv_repo
from ..storage import billing_repo as repo
from ..storage import billing_runs as runs_repo
from ..storage.billing_invoices import FINALIZED, VOID, Invoice
from ..storage.billing_repo import load_subscriptions
from ..storage.keys_repo import ENVIRONMENTS
from ..storage.outbox import enqueue
from ..storage.store import Store
from ..timeutil import from_us, to_us
from .late import pending_lines, period_usage
from .pricer import Pricer
from .run import RunResult, due_periods, write_chunk
from .runner import DEFAULT_LOOKBACK_DAYS, RunOptions, price_due, run_environment


class Billing:
    def __init__(self, store: Store):
        self.store = store

    def _now(self, at: datetime | None = None) -> datetime:
        return at if at is not None else from_us(self.store.now())

    # -- customers ------------------------------------------------------------------------------
    def create_customer(self, env: str, raw: Any) -> repo.Customer:
        data = parse_customer(raw)
        with self.store.write() as conn:
            customer = repo.insert_customer(conn, env, data, self.store.now())
            audit.record(conn, env, None, "customer.created", customer.id,
                         {"email": customer.email, "name": customer.name}, self.store.now())
            return customer

    def get_customer(self, env: str, customer_id: str) -> repo.Customer:
        with self.store.read() as conn:
            return repo.get_customer(conn, env, customer_id)

    def list_customers(self, env: str, limit: int = 100, offset: int = 0, **filters) -> list[repo.Customer]:
        with self.store.read() as conn:
            return repo.list_customers(conn, env, limit, offset, **filters)

    # -- products -------------------------------------------------------------------------------
    def create_product(self, env: str, raw: Any) -> repo.Product:
        plan = parse_product(raw)
        with self.store.write() as conn:
            lines = []
            for i, line in enumerate(plan.usage):
                try:
                    meter = meters_repo.get_meter(conn, env, line.meter_id)
                except NotFound:
                    raise ValidationError(f"meter {line.meter_id!r} not found", f"meters[{i}].meter_id") from None
                lines.append(replace(line, description=line.description or meter.spec.name))
            plan = replace(plan, usage=tuple(lines))
            product_credits.check_plan(conn, env, plan)
            product = repo.insert_product(conn, env, plan, self.store.now(), raw.get("metadata"), raw.get("tax_category"))
            audit.record(conn, env, None, "product.created", product.id, {"name": plan.name}, self.store.now())
            return product

    def get_product(self, env: str, product_id: str) -> repo.Product:
        with self.store.read() as conn:
            return repo.get_product(conn, env, product_id)

    def list_products(self, env: str, limit: int = 100, offset: int = 0, archived: bool | None = False) -> list[repo.Product]:
        with self.store.read() as conn:
            return repo.list_products(conn, env, limit, offset, archived)

    # -- subscriptions --------------------------------------------------------------------------
    def create_subscription(self, env: str, raw: Any) -> repo.Subscription:
        data = parse_subscription(raw, self._now())
        with self.store.write() as conn:
            repo.get_customer(conn, env, data["customer_id"])
            product = _product_for(conn, env, data["product_id"])
            cycle = product.plan.cycle
            start = from_us(data["start_at"])
            data.update(cycle=cycle, anchor_at=to_us(billing_anchor(start, cycle, data.pop("anchor_day"))))
            sub = repo.insert_subscription(conn, env, data, self.store.now())
            product_credits.sync_subscription(conn, env, sub.id, self.store.now(), created=True)
            audit.record(conn, env, None, "subscription.created", sub.id,
                         {"customer_id": sub.customer_id, "product_id": sub.product_id}, self.store.now())
            return sub

    def get_subscription(self, env: str, subscription_id: str) -> repo.Subscription:
        with self.store.read() as conn:
            return repo.get_subscription(conn, env, subscription_id)

    def list_subscriptions(self, env: str, limit: int = 100, offset: int = 0, **filters) -> list[repo.Subscription]:
        with self.store.read() as conn:
            return repo.list_subscriptions(conn, env, limit, offset, **filters)

    def change_plan(self, env: str, subscription_id: str, product_id: str, at: datetime | None = None,
                    quantity: int | None = None) -> repo.Subscription:
        """Switch plans from ``at`` (default now); the fixed fees of both plans are prorated."""
        at = self._now(at)
        with self.store.write() as conn:
            repo.lock_subscriptions(conn, [subscription_id])  # serialised with the writes of its invoices
            sub = repo.get_subscription(conn, env, subscription_id)
            new, old = _product_for(conn, env, product_id), repo.get_product(conn, env, sub.product_id)
            if new.plan.currency != old.plan.currency:
                raise ValidationError("the new plan must use the subscription's currency", "product_id")
            if new.plan.cycle != sub.cycle:
                raise ValidationError("the new plan must have the subscription's billing period", "product_id")
            if to_us(at) <= sub.start_at:
                raise ValidationError("a plan change must come after the subscription starts", "effective_at")
            billed = inv_repo.invoiced_after(conn, sub.id, to_us(at))
            if billed is not None:
                raise Conflict(f"the period containing that instant is already invoiced ({billed})", "effective_at")
            qty = sub.quantity if quantity is None else quantity
            repo.add_segment(conn, sub, to_us(at), product_id, qty, self.store.now())
            product_credits.sync_subscription(conn, env, sub.id, self.store.now())
            return repo.get_subscription(conn, env, subscription_id)

    def cancel(self, env: str, subscription_id: str, at_period_end: bool = True) -> repo.Subscription:
        """Cancel at the end of the current period (``at_period_end=False`` undoes a pending cancel)."""
        now = self._now()
        with self.store.write() as conn:
            sub = repo.get_subscription(conn, env, subscription_id)
            ends = None
            if at_period_end:
                ends = to_us(period_at(sub.start, sub.anchor, sub.cycle, max(now, sub.start)).end)
            repo.set_cancel(conn, sub, at_period_end, ends, self.store.now())
            product_credits.sync_subscription(conn, env, sub.id, self.store.now())
            return repo.get_subscription(conn, env, subscription_id)

    # -- pricing a period -----------------------------------------------------------------------
    def preview(self, env: str, subscription_id: str, at: datetime | None = None) -> tuple[repo.Subscription, InvoiceDraft]:
        """Upcoming invoice: the period containing ``at`` (default now), usage up to ``at``, and the
        adjustments of late usage no invoice carries yet. A period no price can take raises
        ``UnbillableQuantity`` (422 naming the meter and the value)."""
        at = self._now(at)
        with self.store.read() as conn:
            sub = repo.get_subscription(conn, env, subscription_id)
            if sub.ends is not None and at >= sub.ends:
                raise ValidationError("the subscription has ended; there is no upcoming invoice", "at")
            period = period_at(sub.start, sub.anchor, sub.cycle, max(at, sub.start))
            draft = Pricer(conn).draft(sub, period, upto=at)
            pending = pending_lines(adj_repo.carryable(conn, [sub.id]).get(sub.id, []), to_us(period.start))
            return sub, draft.with_lines(pending) if pending else draft

    # -- invoices -------------------------------------------------------------------------------
    def create_invoice(self, env: str, subscription_id: str, at: datetime) -> tuple[Invoice, bool]:
        """Invoice the (ended) period containing ``at``; idempotent per period."""
        with self.store.write() as conn:
            repo.lock_subscriptions(conn, [subscription_id])
            sub = repo.get_subscription(conn, env, subscription_id)
            period = period_at(sub.start, sub.anchor, sub.cycle, at)
            if period.end > self._now():
                raise ValidationError("that period has not ended yet; see the upcoming invoice", "at")
            if sub.ends is not None and period.start >= sub.ends:
                raise ValidationError("the subscription had ended before that period", "at")
            return self._create(conn, sub, period)

    def _create(self, conn, sub: repo.Subscription, period: Period) -> tuple[Invoice, bool]:
        now = self.store.now()
        chunk = self._write_one(conn, sub, period, now, finalize=False)
        written = chunk.written[0]
        if written.stored.created:
            return inv_repo.get_invoice(conn, sub.environment, written.stored.id), True
        return inv_repo.get_invoice(conn, sub.environment, written.stored.id), False

    def _write_one(self, conn, sub: repo.Subscription, period: Period, now_us: int, finalize: bool):
        """Price one period on ``conn`` and write it as a run would (carrying pending adjustments)."""
        due = price_due(Pricer(conn), sub, period)
        chunk = write_chunk(conn, [due], [], now_us, lambda d: finalize,
                            lambda s, p: price_due(Pricer(conn), s, p))
        runs_repo.resolve(conn, [(sub.id, to_us(period.start), runs_repo.INVOICE)], now_us)
        return chunk

    def finalize(self, env: str, invoice_id: str) -> Invoice:
        """Re-price a draft from current meter values and freeze it (idempotent for a final invoice)."""
        with self.store.write() as conn:
            invoice = inv_repo.get_invoice(conn, env, invoice_id)
            if invoice.status == FINALIZED:
                return invoice
            if invoice.status == VOID:
                raise Conflict("a void invoice cannot be finalized", "status")
            return self._finalize(conn, invoice)

    def _finalize(self, conn, invoice: Invoice) -> Invoice:
        now = self.store.now()
        repo.lock_subscriptions(conn, [invoice.subscription_id])
        sub = repo.get_subscription(conn, invoice.environment, invoice.subscription_id)
        period = period_at(sub.start, sub.anchor, sub.cycle, from_us(invoice.period_start))
        self._write_one(conn, sub, period, now, finalize=True)
        final = inv_repo.get_invoice(conn, invoice.environment, invoice.id)
        audit.record(conn, final.environment, None, "invoice.finalized", final.id,
                     {"customer_id": final.customer_id, "total": str(final.total), "currency": final.currency}, now)
        return final

    def void(self, env: str, invoice_id: str) -> Invoice:
        """Void an invoice. The adjustments it carried are pending again (the next invoice carries
        them); pending adjustments of its own period are dropped (nothing of that period is billed)."""
        with self.store.write() as conn:
            invoice = inv_repo.get_invoice(conn, env, invoice_id)
            if invoice.status != VOID:
                now = self.store.now()
                inv_repo.set_status(conn, invoice_id, VOID, now)
                adj_repo.release(conn, invoice_id)
                adj_repo.drop_pending_of(conn, invoice_id)
                invoice = inv_repo.get_invoice(conn, env, invoice_id)
                enqueue(conn, env, "invoice.voided", invoice.to_dict(), now)
                audit.record(conn, env, None, "invoice.voided", invoice.id,
                             {"customer_id": invoice.customer_id, "total": str(invoice.total),
                              "currency": invoice.currency}, now)
            return invoice

    def get_invoice(self, env: str, invoice_id: str) -> Invoice:
        with self.store.read() as conn:
            return inv_repo.get_invoice(conn, env, invoice_id)

    def list_invoices(self, env: str, limit: int = 100, offset: int = 0, **filters) -> list[Invoice]:
        if filters.get("status") not in (None, *inv_repo.STATUSES):
            raise ValidationError(f"status must be one of {', '.join(inv_repo.STATUSES)}", "status")
        with self.store.read() as conn:
            return inv_repo.list_invoices(conn, env, limit, offset, **filters)

    # -- batch billing --------------------------------------------------------------------------
    def due(self, until: datetime, env: str | None = None) -> list[tuple[repo.Subscription, Period]]:
        """Every (subscription, period) ended by ``until`` that has no invoice yet, or only a draft."""
        with self.store.read() as conn:
            return due_periods(load_subscriptions(conn, env), inv_repo.period_statuses(conn, env), until)

    def run(self, until: datetime, env: str | None = None, finalize: bool = False,
            progress: Callable[[int, int], None] | None = None, finalize_now: bool = False,
            lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> RunResult:
        """Bill every due period (idempotent: a re-run finds the invoices and creates none).

        Each environment is its own run (``env=None``: test_mode, then live_mode), priced from one
        snapshot and isolated per period: a period no price can take is skipped and recorded, every
        other one is billed (``invoicing.runner``). Existing drafts are re-priced; late usage of
        periods finalized within ``lookback_days`` becomes adjustments carried by the next invoice.
        ``finalize``: freeze the periods whose grace period has passed; ``finalize_now``: every one.
        Events arriving during the run are not on its invoices (they are late: the next run sees them).
        """
        options = RunOptions(finalize, finalize_now, lookback_days)
        result = RunResult()
        for e in ([env] if env is not None else list(ENVIRONMENTS)):
            result.merge(run_environment(self.store, e, until, options, progress, self._thresholds))
        return result

    def _thresholds(self, subs: list[repo.Subscription], until: datetime) -> int:
        """``usage.threshold_reached`` for the active subscriptions of a run (their current period)."""
        hits = 0
        for sub in subs:
            if sub.thresholds and (sub.ends is None or until < sub.ends) and until >= sub.start:
                try:
                    hits += len(self.check_thresholds(sub.environment, sub.id, until))
                except UnbillableQuantity:  # its period needs attention (the preview says why); the others go on
                    continue
        return hits

    # -- what runs did, what needs attention, late usage -----------------------------------------
    def list_runs(self, env: str, limit: int = 20, offset: int = 0) -> list[runs_repo.Run]:
        with self.store.read() as conn:
            return runs_repo.list_runs(conn, env, limit, offset)

    def get_run(self, env: str, run_id: str) -> runs_repo.Run:
        with self.store.read() as conn:
            return runs_repo.get_run(conn, env, run_id)

    def needs_attention(self, env: str, customer_id: str | None = None, limit: int = 100,
                        offset: int = 0) -> list[runs_repo.Skip]:
        """The periods the latest runs could not price and no run has priced since."""
        with self.store.read() as conn:
            return runs_repo.open_skips(conn, env, customer_id, limit, offset)

    def list_adjustments(self, env: str, limit: int = 100, offset: int = 0, **filters) -> list[adj_repo.Adjustment]:
        if filters.get("status") not in (None, "pending", "carried", "invoiced"):
            raise ValidationError("status must be one of pending, carried, invoiced", "status")
        with self.store.read() as conn:
            return adj_repo.list_adjustments(conn, env, limit, offset, **filters)

    def periods(self, env: str, subscription_id: str, limit: int = 12):
        """Per invoiced period: usage invoiced vs usage now (``invoicing.late``)."""
        return period_usage(self.store, env, subscription_id, limit)

    def check_thresholds(self, env: str, subscription_id: str, at: datetime | None = None) -> list[str]:
        """Queue ``usage.threshold_reached`` once per threshold and period; returns the new keys."""
        sub, draft = self.preview(env, subscription_id, at)
        keys = crossed_thresholds(parse_thresholds(sub.thresholds), draft)
        new: list[str] = []
        start = to_us(draft.period.start)
        with self.store.write() as conn:
            now = self.store.now()
            for key in keys:
                if repo.record_threshold_hit(conn, sub.id, start, key, now):
                    new.append(key)
                    enqueue(conn, env, "usage.threshold_reached", {
                        "subscription_id": sub.id, "customer_id": sub.customer_id, "threshold": key,
                        "period_start": draft.period.start.isoformat(), "period_end": draft.period.end.isoformat(),
                        "amount_so_far": str(draft.total), "currency": draft.currency,
                    }, now)
        return new


def _product_for(conn, env: str, product_id: str) -> repo.Product:
    try:
        return repo.get_product(conn, env, product_id)
    except NotFound:
        raise ValidationError(f"product {product_id!r} not found", "product_id") from None
