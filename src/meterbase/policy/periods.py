"""Compatibility re-export: period arithmetic lives in :mod:`meterbase.periods` (shared with billing)."""

from ..periods import *  # noqa: F401,F403
