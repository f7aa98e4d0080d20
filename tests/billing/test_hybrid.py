"""A hybrid product (fixed fee + 4 meters) across a month boundary and a mid-period plan change.

Subscription from 2025-01-15 anchored on day 1: a prorated January stub, then February, where the
customer moves from Pro ($49) to Scale ($99) on Feb 15 (14 of 28 days each). Free allowances are
per period: Scale's free units are reduced by those Pro already granted in February.
"""

from __future__ import annotations

from datetime import datetime

from .conftest import UTC

GRAD = {"model": "graduated", "tiers": [{"up_to": 3600, "unit_price": "0.0004"},
                                        {"up_to": 36000, "unit_price": "0.00035"},
                                        {"up_to": None, "unit_price": "0.0003"}]}


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def setup(api):
    m = {
        "api": api.meter("API calls", "api.call"),
        "tok": api.meter("Tokens", "ai.tokens", "sum", "tokens"),
        "img": api.meter("Images", "image.generated"),
        "gpu": api.meter("GPU seconds", "gpu.job", "sum", "seconds"),
    }
    pro = api.product([
        {"meter_id": m["api"], "price_per_unit": "0.001", "free_threshold": 1000},
        {"meter_id": m["tok"], "price_per_unit": "0.00001", "free_threshold": 10000},
        {"meter_id": m["img"], "price_per_unit": "0.05", "free_threshold": 10},
        {"meter_id": m["gpu"], "price": GRAD},
    ], fixed_fee="49.00", name="Pro")
    scale = api.product([
        {"meter_id": m["api"], "price_per_unit": "0.0005", "free_threshold": 5000},
        {"meter_id": m["tok"], "price_per_unit": "0.000005", "free_threshold": 50000},
        {"meter_id": m["img"], "price_per_unit": "0.04", "free_threshold": 20},
        {"meter_id": m["gpu"], "price_per_unit": "0.0003"},
    ], fixed_fee="99.00", name="Scale")
    api.customer("cus_h")
    return m, pro, scale


def amounts(inv) -> list[tuple[str, str, str]]:
    return [(ln["description"], ln["quantity"], ln["amount"]) for ln in inv["lines"]]


def test_hybrid_four_meters_month_boundary_and_plan_change(api):
    m, pro, scale = setup(api)
    c = "cus_h"
    # January (the subscription starts on the 15th; earlier usage is not billed)
    api.events(c, "api.call", t("2025-01-10T00:00:00"), 100)
    api.events(c, "api.call", t("2025-01-20T00:00:00"), 2000)
    api.events(c, "api.call", t("2025-01-31T23:59:59.999999"), 500)  # last instant of January
    api.events(c, "ai.tokens", t("2025-01-25T00:00:00"), 4, {"tokens": "12500"})
    api.events(c, "image.generated", t("2025-01-28T00:00:00"), 100)
    api.events(c, "gpu.job", t("2025-01-16T00:00:00"), 10, {"seconds": 4000})
    # February, Pro half
    api.events(c, "api.call", t("2025-02-01T00:00:00"), 800)  # first instant of February
    api.events(c, "ai.tokens", t("2025-02-09T00:00:00"), 1, {"tokens": "8000"})
    api.events(c, "image.generated", t("2025-02-03T00:00:00"), 5)
    api.events(c, "gpu.job", t("2025-02-05T00:00:00"), 1, {"seconds": 3000})
    # February, Scale half
    api.events(c, "api.call", t("2025-02-20T00:00:00"), 6000)
    api.events(c, "ai.tokens", t("2025-02-20T00:00:00"), 6, {"tokens": "10000"})
    api.events(c, "image.generated", t("2025-02-21T00:00:00"), 30)
    api.events(c, "gpu.job", t("2025-02-22T00:00:00"), 1, {"seconds": 1000})

    sub = api.subscribe(c, pro, start="2025-01-15T00:00:00Z", anchor_day=1)
    jan = api.invoice(sub, "2025-01-15T00:00:00Z", 201)
    assert (jan["period_start"], jan["period_end"]) == ("2025-01-15T00:00:00Z", "2025-02-01T00:00:00Z")
    assert amounts(jan) == [
        ("Pro (prorated)", "1", "26.87"),  # 49 × 17/31 = 26.8709… → 26.87
        ("API calls", "2500", "1.50"), ("Tokens", "50000", "0.40"), ("Images", "100", "4.50"),
        ("GPU seconds", "40000", "13.98"),
    ]
    assert jan["total"] == "47.25"

    changed = api.ok("POST", f"/v1/subscriptions/{sub}/change-plan",
                     json={"product_id": scale, "effective_at": "2025-02-15T00:00:00Z"})
    assert changed["product_id"] == scale
    assert [h["product_id"] for h in changed["plan_history"]] == [pro, scale]

    feb = api.invoice(sub, "2025-02-27T00:00:00Z", 201)
    assert (feb["period_start"], feb["period_end"]) == ("2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z")
    assert amounts(feb) == [
        ("Pro (prorated)", "1", "24.50"),  # 49 × 14/28
        ("API calls", "800", "0.00"), ("Tokens", "8000", "0.00"), ("Images", "5", "0.00"),
        ("GPU seconds", "3000", "1.20"),
        ("Scale (prorated)", "1", "49.50"),  # 99 × 14/28
        ("API calls", "6000", "0.90"),  # free 5000 − 800 already free = 4200; 1800 × 0.0005
        ("Tokens", "60000", "0.09"),  # free 50000 − 8000 = 42000; 18000 × 0.000005
        ("Images", "30", "0.60"),  # free 20 − 5 = 15; 15 × 0.04
        ("GPU seconds", "1000", "0.30"),
    ]
    assert [ln["free_units"] for ln in feb["lines"][6:9]] == ["4200", "42000", "15"]
    assert feb["total"] == "77.09"
    assert sum(float(ln["amount"]) for ln in feb["lines"]) == 77.09

    mar = api.invoice(sub, "2025-03-05T00:00:00Z", 201)
    assert amounts(mar)[0] == ("Scale", "1", "99.00") and mar["total"] == "99.00"

    # a plan change inside an invoiced period is refused
    r = api.c.post(f"/v1/subscriptions/{sub}/change-plan", json={"product_id": pro, "effective_at": "2025-02-20T00:00:00Z"})
    assert r.status_code == 409 and r.json()["field"] == "effective_at"


def test_upcoming_preview_counts_usage_so_far(api):
    m, pro, scale = setup(api)
    api.events("cus_h", "api.call", t("2025-02-03T00:00:00"), 1500)
    api.events("cus_h", "api.call", t("2025-02-20T00:00:00"), 1000)
    sub = api.subscribe("cus_h", pro, start="2025-01-15T00:00:00Z", anchor_day=1)
    early = api.ok("GET", f"/v1/subscriptions/{sub}/upcoming-invoice", params={"at": "2025-02-10T00:00:00Z"})
    assert (early["period_start"], early["period_end"]) == ("2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z")
    assert amounts(early)[:2] == [("Pro", "1", "49.00"), ("API calls", "1500", "0.50")]
    assert early["total"] == "49.50" and early["as_of"] == "2025-02-10T00:00:00Z"
    later = api.ok("GET", f"/v1/subscriptions/{sub}/upcoming-invoice", params={"at": "2025-02-25T00:00:00Z"})
    assert later["total"] == "50.50"  # 49 + (2500 − 1000) × 0.001
    assert api.ok("GET", "/v1/invoices", params={"subscription_id": sub})["data"] == []  # nothing stored
