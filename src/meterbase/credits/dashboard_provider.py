"""What the web dashboard shows of credits (the ``credits`` section of ``dashboard.providers``): a customer's
credit balances — with their grants (remaining, expiry or cycle end) and latest ledger entries — and wallets.

Registered explicitly by the composition root (``meterbase.app``). Read-only: balances are settled as of now
in memory (a page never shows credit that has expired), amounts stay exact text at the entitlement's precision,
instants are µs for the templates' ``time`` filter.
"""

from __future__ import annotations

from ..storage import credits_repo as repo, wallets_repo
from ..storage.store import Store
from .ledger import settle
from .metered import pending_credits
from .operations import settled_view
from .service import with_pending
from .views import Recorded

LEDGER_ROWS = 15


def balances(store: Store, environment: str, customer_id: str) -> dict:
    """``{"balances": [...], "wallets": [...]}`` of ``customer_id`` (entitlements deleted since are left out)."""
    now = store.now()
    out = []
    with store.read() as conn:
        for bal in repo.list_balances(conn, environment, None, customer_id, 100, 0):
            ent = repo.get_entitlement(conn, environment, bal.entitlement_id)
            if ent is None or ent.deleted_at is not None:
                continue
            view = with_pending(settled_view(conn, bal, ent, now), pending_credits(conn, environment, ent.id, customer_id))
            acct = repo.read_account(conn, bal)
            pending = settle(acct, ent, now) if bal.next_event_at is not None and bal.next_event_at <= now else []
            grants = [g for g in acct.grants if g.is_open]
            rows = repo.list_ledger(conn, bal.id, limit=LEDGER_ROWS, newest_first=True)
            entries = [Recorded(e, ent.id, customer_id, ent.precision, e.at).to_dict() for e in reversed(pending)]
            entries += [Recorded(r.entry, ent.id, customer_id, ent.precision, r.recorded_at).to_dict() for r in rows]
            out.append({
                "entitlement": ent, "balance": ent.amount_text(view.balance), "overage": ent.amount_text(view.overage),
                "next_event_at": view.next_event_at, "cycle": view.schedule,
                "grants": [{"id": g.id, "initial": ent.amount_text(g.initial), "remaining": ent.amount_text(g.remaining),
                            "source_type": g.source_type, "source_id": g.source_id, "created_at": g.created_at,
                            "expires_at": g.expires_at, "cycle_end": g.cycle_end, "ends_at": g.ends_at,
                            "rollover_count": g.rollover_count} for g in sorted(
                    grants, key=lambda g: (g.ends_at is None, g.ends_at or 0, g.created_at))],
                "ledger": entries[:LEDGER_ROWS],
            })
        wallets = wallets_repo.list_wallets(conn, environment, customer_id)
    return {"balances": out, "wallets": wallets}
