"""``unique_count``: the number of distinct values of a property (kept in the ``meter_distinct`` table)."""

from decimal import Decimal

from ...events.values import to_text
from .base import Aggregation


def _fold(partial, meter, metadata: dict, ts: int, seq: int) -> None:
    raw = metadata.get(meter.key)
    if raw is None:
        partial.rejected += 1
        return
    if partial.distinct is None:
        partial.distinct = set()
    partial.distinct.add(to_text(raw))


AGGREGATION = Aggregation(
    name="unique_count", order=6, label="Unique count", description="number of distinct values of a property",
    needs_key=True, fold=_fold, read=lambda p: Decimal(len(p.distinct or ())), distinct_values=True,
    combined_label="distinct across customers",
)
