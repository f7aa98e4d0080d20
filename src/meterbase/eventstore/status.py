"""The folder's lag as every surface shows it: ``GET /v1/event-store/watermark``, the dashboard's events
page and ``meterbase events status`` all read :func:`fold_status`.

``unfolded`` is the number of the mode's own events after its watermark, exact up to :data:`STATUS_CAP`
(both modes share one seq order, so ``latest_seq - folded_seq`` alone would count the other mode's events
too); the ingest backlog bound (``storage.backlog``) compares the same count with ``MB_MAX_UNFOLDED``.
``max_unfolded`` is the bound the process that asks enforces (``Store.backlog_bound``): ``None`` where
it enforces none (no folder runs beside it, or ``MB_MAX_UNFOLDED=0``; the CLI never does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..storage.store import Store

#: The most events a status counts (through ``(environment, seq)``): a larger tail shows as this many.
STATUS_CAP = 1_000_000


def fold_status(store: "Store", environment: str) -> dict:
    """``{"environment", "folded_seq", "latest_seq", "unfolded", "max_unfolded"}`` for ``environment``."""
    return {**store.fold_lag(environment, STATUS_CAP), "max_unfolded": store.backlog_bound}
