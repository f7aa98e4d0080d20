"""The folder's lag as every surface shows it: ``GET /v1/event-store/watermark``, the dashboard's events
page and ``meterbase events status`` all read :func:`fold_status`.

``unfolded`` is the tail ``latest_seq - folded_seq`` (never negative), the measure the ingest backlog
bound compares with ``MB_MAX_UNFOLDED`` (``storage.backlog``). It counts seqs: both modes share one seq
order and seqs may skip values, so it is at most, not exactly, the number of the mode's events waiting.
``max_unfolded`` is the bound the process that asks enforces (``Store.backlog_bound``): ``None`` where
it enforces none (no folder runs beside it, or ``MB_MAX_UNFOLDED=0``; the CLI never does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..storage.store import Store


def fold_status(store: "Store", environment: str) -> dict:
    """``{"environment", "folded_seq", "latest_seq", "unfolded", "max_unfolded"}`` for ``environment``."""
    w = store.watermark(environment)
    return {**w, "unfolded": max(0, w["latest_seq"] - w["folded_seq"]), "max_unfolded": store.backlog_bound}
