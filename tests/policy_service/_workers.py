"""Worker processes for the concurrency tests (importable by ``multiprocessing`` spawn children)."""

from __future__ import annotations

from decimal import Decimal

CONCURRENCY_POLICY = """
policy:
  credits:
    gpu_second:
      description: GPU seconds
      stof_units: s
      resets: true
  plans:
    tiny:
      label: Tiny
      period: monthly
      default: true
      entitlements:
        gpu_compute:
          limit: { credit: gpu_second, mode: hard, value: LIMIT, resets: true, reset_inc: 30days }
"""


def allow_worker(url: str, environment: str, customer_id: str, attempts: int, amount: int, start, results) -> None:
    """Open an own Store on ``url``, wait for the start signal, then call allow() ``attempts`` times."""
    from meterbase.policy.service import PolicyService
    from meterbase.storage import Store

    store = Store(url)
    try:
        svc = PolicyService(store, environment=environment)
        svc.check(customer_id, "gpu_compute")  # warm the connection and the parsed policy before the race
        start.wait(60)
        allowed, consumed, refused = 0, Decimal(0), 0
        for _ in range(attempts):
            outcome = svc.allow(customer_id, "gpu_compute", amount)
            if outcome.allowed:
                allowed += 1
                consumed += outcome.consumed
                assert outcome.used_after <= outcome.limit
            else:
                refused += 1
        results.put((allowed, str(consumed), refused, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((0, "0", 0, repr(exc)))
    finally:
        store.close()


CAP_POLICY = """
policy:
  credits:
    call: { price: { amount: 0.5 } }
  plans:
    capped:
      default: true
      caps:
        budget: { value: CAP }
      entitlements:
        reads: { limit: { credit: call, mode: soft, value: 0 } }
        writes: { limit: { credit: call, mode: soft, value: 0 } }
"""


def cap_worker(url: str, environment: str, customer_id: str, attempts: int, index: int, start, results) -> None:
    """Like :func:`allow_worker`, alternating two entitlements that share one spend cap."""
    from meterbase.policy.service import PolicyService
    from meterbase.storage import Store

    store = Store(url)
    try:
        svc = PolicyService(store, environment=environment)
        svc.check(customer_id, "reads")
        start.wait(60)
        allowed, spent = 0, Decimal(0)
        for i in range(attempts):
            outcome = svc.allow(customer_id, ("reads", "writes")[(i + index) % 2], 1)
            if outcome.allowed:
                allowed += 1
                spent += outcome.price_diff
                assert outcome.caps[0].spent_after <= outcome.caps[0].value
        results.put((allowed, str(spent), attempts - allowed, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((0, "0", 0, repr(exc)))
    finally:
        store.close()
