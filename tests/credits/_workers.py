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
