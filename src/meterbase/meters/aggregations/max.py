"""``max``: the largest value of a numeric property."""

from .base import NUMERIC_COLUMNS, Aggregation, numeric_fold

AGGREGATION = Aggregation(
    name="max", order=2, label="Maximum", description="largest value of a numeric property", needs_key=True,
    numeric=True, fold=numeric_fold, read=lambda p: p.max if p.n else None, columns=NUMERIC_COLUMNS + ("max",),
    combine="sum", combined_label="sum of each customer's max",
)
