"""Worker processes for the credits concurrency tests (importable by ``multiprocessing`` spawn children)."""

from __future__ import annotations

from decimal import Decimal


def debit_worker(url: str, environment: str, entitlement_id: str, customer_id: str, attempts: int, amount: str,
                 start, results) -> None:
    """Open an own Store on ``url``, wait for the start signal, then debit ``attempts`` times."""
    from meterbase.credits import InsufficientCredits
    from meterbase.credits.service import CreditService
    from meterbase.storage import Store

    store = Store(url)
    try:
        svc = CreditService(store, environment, business_id="bus_race")
        svc.balance(entitlement_id, customer_id)  # warm the connection before the race
        start.wait(60)
        done, debited, refused = 0, Decimal(0), 0
        for _ in range(attempts):
            try:
                rec = svc.debit(entitlement_id, customer_id, amount)
            except InsufficientCredits:
                refused += 1
                continue
            done += 1
            debited += rec.entry.amount
        results.put((done, str(debited), refused, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((0, "0", 0, repr(exc)))
    finally:
        store.close()


def allow_worker(url: str, environment: str, policy: str, customer_id: str, entitlement: str, attempts: int,
                 amount: str, start, results) -> None:
    """``allow()`` ``attempts`` times against the credit ledger's covering balance (own Store and process)."""
    from meterbase.credits.covering import LedgerCovering
    from meterbase.policy.service import PolicyService
    from meterbase.storage import Store

    store = Store(url)
    try:
        svc = PolicyService(store, environment=environment, covering=LedgerCovering("bus_race"))
        svc.check(customer_id, entitlement, amount)  # warm the connection and the cache before the race
        start.wait(60)
        done, spent, refused = 0, Decimal(0), 0
        for _ in range(attempts):
            d = svc.allow(customer_id, entitlement, amount)
            if d.allowed:
                done += 1
                spent += d.decision.covered_price
            else:
                refused += 1
        results.put((done, str(spent), refused, None, "allow"))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((0, "0", 0, repr(exc), "allow"))
    finally:
        store.close()
