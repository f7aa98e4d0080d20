"""Compatibility re-export: unit strings live in :mod:`meterbase.units` (shared with sessions)."""

from ..units import *  # noqa: F401,F403
