"""Seed 004's policy with one more plan for credits: ``prepaid`` meters GPU seconds against a hard limit of 0, so
every second must be paid for by the covering balance (a customer at zero is refused)."""

from __future__ import annotations

from pathlib import Path

SEED = (Path(__file__).parent.parent / "policy" / "seed_policy.yaml").read_text(encoding="utf-8")

PREPAID = """
    prepaid:
      label: Prepaid
      period: monthly
      entitlements:
        gpu_compute:
          description: GPU compute paid from credits
          limit: { credit: gpu_second, mode: hard, value: 0, resets: true, reset_inc: 30days }
        gpu_batch:
          description: GPU batch jobs, 1 GPU-hour included, overage billed
          limit: { credit: gpu_second, mode: soft, value: '1hr', resets: true, reset_inc: 30days }
"""

#: a money credit: one credit is one cent (precision 0, $0.01 per credit)
CENTS = {"name": "Prepaid USD", "unit": "USD cents", "precision": 0, "currency": "USD", "price_per_unit": "0.01",
         "covers_policy_usage": True}
#: a fiat credit in dollars with two places
DOLLARS = {"name": "Prepaid balance", "unit": "USD", "precision": 2, "currency": "USD", "price_per_unit": "1",
           "covers_policy_usage": True}


def policy_text() -> str:
    """Seed 004 verbatim, with the ``prepaid`` plan appended under ``plans``."""
    return SEED.rstrip("\n") + "\n" + PREPAID
