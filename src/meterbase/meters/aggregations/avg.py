"""``avg``: the mean of a numeric property, the one rounded meter value (``exact.quotient``'s rule)."""

from ...exact import quotient
from .base import NUMERIC_COLUMNS, Aggregation, numeric_fold

AGGREGATION = Aggregation(
    name="avg", order=4, label="Average", description="mean of a numeric property", needs_key=True, numeric=True,
    fold=numeric_fold, read=lambda p: quotient(p.sum, p.n) if p.n else None, columns=NUMERIC_COLUMNS + ("sum",),
    combined_label="average of all events",
)
