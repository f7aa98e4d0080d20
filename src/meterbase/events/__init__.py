"""Events: the usage records clients send. Pure validation and normalisation (no I/O)."""

from .model import Event, MAX_BATCH
from .validate import validate_batch, validate_event

__all__ = ["Event", "MAX_BATCH", "validate_batch", "validate_event"]
