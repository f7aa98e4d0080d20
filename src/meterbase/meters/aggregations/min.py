"""``min``: the smallest value of a numeric property."""

from .base import NUMERIC_COLUMNS, Aggregation, numeric_fold

AGGREGATION = Aggregation(
    name="min", order=3, label="Minimum", description="smallest value of a numeric property", needs_key=True,
    numeric=True, fold=numeric_fold, read=lambda p: p.min if p.n else None, columns=NUMERIC_COLUMNS + ("min",),
    combine="lines", combined_label=None,
)
