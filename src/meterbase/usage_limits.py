"""Bounded usage queries: the use case behind every usage surface (``GET /v1/meters/{id}/usage`` for API keys
and portal tokens, the dashboard's meter and customer pages, ``meterbase usage``).

An answer holds ``rows × windows`` cells: one row per customer (per ``(customer, metadata group)`` with
``group_by``) and one cell per window. Its memory and size follow that product, not the number of events
(50 customers at minute windows over 13 days are 936,000 cells: a ~70 MB answer; a row is at most
20,000 windows, ``meters.windows.MAX_WINDOWS``). So before the query
runs, :func:`bounded_usage` counts the windows (pure arithmetic) and the rows (``storage.usage_bounds``:
customer ids from the rollups, or the distinct groups of the range's events, counting stops past the
bound) and refuses a query above ``MB_MAX_USAGE_CELLS`` (default 100,000) with ``422 usage_too_large``
naming the bound, its value and the cells the query would have returned. Nothing is allocated for it.

``sparse`` answers (``?sparse=true``) omit the windows in which no event counted; the row's total,
``events`` and ``rejected`` are unchanged. They make a large-but-allowed answer small when usage is
bursty; the bound counts every window either way (the query computes them all).
"""

from __future__ import annotations

from .errors import ValidationError
from .meters.aggregate import Partial
from .meters.windows import windows
from .storage import meters_repo, usage_bounds
from .storage.usage import MAX_GROUP_KEYS, UsageResult

#: Default of ``MB_MAX_USAGE_CELLS`` (``config.Settings.max_usage_cells``).
MAX_USAGE_CELLS = 100_000


class UsageTooLarge(ValidationError):
    """A usage query whose answer would exceed ``MB_MAX_USAGE_CELLS`` cells (422, nothing was computed)."""

    code = "usage_too_large"

    def __init__(self, cells: int, rows: int, windows_: int, limit: int, grouped: bool, at_least: bool):
        self.cells, self.rows, self.windows, self.limit = cells, rows, windows_, limit
        what = "(customer, group) rows" if grouped else ("customers" if rows != 1 else "customer")
        more = "at least " if at_least else ""
        super().__init__(
            f"usage query would return {more}{cells:,} cells ({more}{rows:,} {what} × {windows_:,} windows); "
            f"the limit is {limit:,} (MB_MAX_USAGE_CELLS): narrow the range (from/to), use a coarser "
            f"window or fewer customers{' or group keys' if grouped else ''}",
            "group_by" if grouped else "window")


def bounded_usage(store, environment: str, meter_id: str, start: int, end: int, window: str = "day",
                  tz: str = "UTC", customer_id: str | None = None, group_by: list[str] | None = None,
                  max_cells: int = MAX_USAGE_CELLS) -> UsageResult:
    """``store.usage(...)`` after checking that its answer stays within ``max_cells`` cells (else
    :class:`UsageTooLarge`). ``max_cells <= 0`` turns the bound off."""
    if group_by and len(group_by) > MAX_GROUP_KEYS:
        raise ValidationError(f"group by at most {MAX_GROUP_KEYS} metadata keys", "group_by")
    if max_cells > 0:
        with store.read() as conn:
            meter = meters_repo.get_meter(conn, environment, meter_id)  # 404 first, as store.usage
            nwin = len(windows(start, end, window, tz))  # then window, tz and the range (422)
            cap = max_cells // nwin + 1  # this many rows already exceed the bound
            if group_by:
                rows = usage_bounds.count_groups(conn, meter, start, end, customer_id, group_by, cap)
                at_least = rows >= cap
            elif customer_id is not None:
                rows, at_least = 1, False
            else:  # counted up to the bound itself, so the message gives the real figure
                rows = usage_bounds.count_customers(conn, meter, start, end, max_cells + 1)
                at_least = rows > max_cells
        if rows * nwin > max_cells:
            raise UsageTooLarge(rows * nwin, rows, nwin, max_cells, bool(group_by), at_least)
    return store.usage(environment, meter_id, start, end, window, tz, customer_id, group_by)


def is_empty(p: Partial) -> bool:
    """No event counted in this window (what a sparse answer omits)."""
    return p.events == 0 and p.rejected == 0 and not p.distinct
