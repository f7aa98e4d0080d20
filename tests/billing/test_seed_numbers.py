"""The seeds' worked numbers (003: per unit + free threshold; 004: graduated GPU seconds),
reproduced end to end through the HTTP API: events in, meter, product, subscription, invoice out."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from .conftest import UTC

JAN = datetime(2025, 1, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "event_name, agg, key, events, per_event, price_per_unit, free, quantity, amount",
    [
        ("api.call", "count", None, 2_500, None, "0.02", 1_000, "2500", "30.00"),
        ("api.request", "count", None, 15_000, None, "0.001", 1_000, "15000", "14.00"),
        ("ai.tokens", "sum", "tokens", 20, "2500", "0.00001", 10_000, "50000", "0.40"),
        ("image.generated", "count", None, 100, None, "0.05", 10, "100", "4.50"),
    ],
    ids=["2500-calls", "15000-calls", "50000-tokens", "100-images"],
)
def test_seed_003_per_unit_with_free_threshold(api, event_name, agg, key, events, per_event, price_per_unit, free,
                                               quantity, amount):
    meter = api.meter(event_name, event_name, agg, key)
    api.events("cus_seed", event_name, JAN, events, {key: per_event} if key else {}, step=timedelta(seconds=1))
    api.events("cus_other", event_name, JAN, 3, {key: per_event} if key else {})  # another customer: not billed here
    api.customer("cus_seed")
    product = api.product([{"meter_id": meter, "price_per_unit": price_per_unit, "free_threshold": free}])
    sub = api.subscribe("cus_seed", product)

    inv = api.invoice(sub, "2025-01-20T00:00:00Z", 201)
    assert (inv["period_start"], inv["period_end"]) == ("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z")
    [line] = inv["lines"]
    assert (line["quantity"], line["free_units"]) == (quantity, str(free))
    assert line["billable_units"] == str(int(quantity) - free)
    assert (line["unit_price"], line["amount"]) == (price_per_unit, amount)
    assert (inv["subtotal"], inv["total"], inv["currency"], inv["status"]) == (amount, amount, "USD", "draft")
    # exactly what the seed computes, in exact decimals
    assert (Decimal(quantity) - free) * Decimal(price_per_unit) == Decimal(amount)


def test_seed_004_graduated_gpu_seconds(api):
    meter = api.meter("GPU seconds", "gpu.job", "sum", "seconds", unit="s")
    api.events("cus_gpu", "gpu.job", JAN, 10, {"seconds": "4000"}, step=timedelta(hours=1))  # 40,000 s
    api.customer("cus_gpu")
    tiers = [{"up_to": 3600, "unit_price": "0.0004"}, {"up_to": 36000, "unit_price": "0.00035"},
             {"up_to": None, "unit_price": "0.0003"}]
    product = api.product([{"meter_id": meter, "price": {"model": "graduated", "tiers": tiers}}])
    sub = api.subscribe("cus_gpu", product)

    inv = api.invoice(sub, "2025-01-31T23:59:59Z", 201)
    [line] = inv["lines"]
    assert line["quantity"] == "40000" and line["model"] == "graduated"
    assert [(t["units"], t["unit_price"], t["amount"]) for t in line["tiers"]] == [
        ("3600", "0.0004", "1.4400"), ("32400", "0.00035", "11.34000"), ("4000", "0.0003", "1.2000")]
    assert line["amount"] == inv["total"] == "13.98"  # 3600×0.0004 + 32400×0.00035 + 4000×0.0003


def test_invoicing_twice_returns_the_same_invoice(api):
    meter = api.meter("calls", "api.call")
    api.events("cus_1", "api.call", JAN, 5)
    api.customer("cus_1")
    sub = api.subscribe("cus_1", api.product([{"meter_id": meter, "price_per_unit": "1"}]))
    first = api.invoice(sub, "2025-01-02T00:00:00Z", 201)
    again = api.invoice(sub, "2025-01-30T00:00:00Z", 200)
    assert again["id"] == first["id"] and again["total"] == "5.00"
    assert len(api.ok("GET", "/v1/invoices", params={"subscription_id": sub})["data"]) == 1
