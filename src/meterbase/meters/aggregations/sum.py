"""``sum``: the sum of a numeric property."""

from .base import NUMERIC_COLUMNS, Aggregation, numeric_fold

AGGREGATION = Aggregation(
    name="sum", order=1, label="Sum", description="sum of a numeric property", needs_key=True, numeric=True,
    fold=numeric_fold, read=lambda p: p.sum, columns=NUMERIC_COLUMNS + ("sum",), additive=True, chart="bar",
)
