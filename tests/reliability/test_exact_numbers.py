"""Issue 19 items 5 and 8, and the value range: every value metering accepts is shown exactly by the
API and the dashboard (no 500, no rounding at 28 digits), ``avg`` follows its one documented rule
into invoices, a value that cannot be priced is a typed per-line error, and invoice totals are
summed exactly. SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from billing.conftest import Api
from meterbase.api import create_app
from meterbase.billing import Segment, assemble, parse_product, period_at
from meterbase.config import Settings

UTC = timezone.utc
WHEN = datetime(2025, 1, 10, 12, tzinfo=UTC)
RANGE = {"from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"}
BIG = "9" * 30  # 30 integer digits: the largest integer a meter accepts
TINY = "0." + "0" * 29 + "1"  # 1e-30: the finest fraction a meter accepts


@pytest.fixture()
def api(store, monkeypatch) -> Api:
    monkeypatch.setenv("MB_SECRET_KEY", "exact-numbers-secret-" + "x" * 32)
    token, _ = store.create_key("rw", "test_mode")
    client = TestClient(create_app(store, Settings(database_url=store.url)), headers={"Authorization": f"Bearer {token}"},
                        follow_redirects=False)
    client.token = token
    return Api(client, store)


def usage(api: Api, meter_id: str, **params) -> dict:
    return api.ok("GET", f"/v1/meters/{meter_id}/usage", params={**RANGE, "window": "month", **params})


def values(doc: dict) -> dict[str, str]:
    return {row["customer_id"]: row["value"] for row in doc["data"]}


@pytest.mark.parametrize("agg", ["sum", "max", "min", "last", "avg"])
def test_thirty_digit_values_are_exact_for_every_customer_and_page(api, agg):
    meter = api.meter(f"big {agg}", "big.event", agg, "v")
    api.events("cus_big", "big.event", WHEN, 1, {"v": BIG})
    api.events("cus_small", "big.event", WHEN, 1, {"v": "2"})
    assert values(usage(api, meter)) == {"cus_big": BIG, "cus_small": "2"}
    assert values(usage(api, meter, customer_id="cus_big")) == {"cus_big": BIG}
    assert usage(api, meter, customer_id="cus_big", window="day")["data"][0]["windows"][9]["value"] == BIG
    assert api.c.post("/ui/login", data={"api_key": api.c.token, "next": "/ui"}).status_code == 303
    for page in (f"/ui/meters/{meter}", "/ui/customers/cus_big", "/ui/customers", "/ui/meters", "/ui"):
        r = api.c.get(page)
        assert r.status_code == 200, (page, r.text[-500:])
    page = api.c.get(f"/ui/meters/{meter}", params=RANGE)
    assert page.status_code == 200 and BIG in page.text.replace(",", "")
    assert BIG in str(api.ok("GET", f"/ui/api/meters/{meter}/usage", params=RANGE))


def test_values_past_28_significant_digits_are_not_rounded(api):
    meter = api.meter("fine", "fine.event", "sum", "v")
    api.events("cus_f", "fine.event", WHEN, 1, {"v": "1"})
    api.events("cus_f", "fine.event", WHEN, 1, {"v": TINY})
    exact = "1." + "0" * 29 + "1"
    assert values(usage(api, meter)) == {"cus_f": exact}
    assert api.c.post("/ui/login", data={"api_key": api.c.token, "next": "/ui"}).status_code == 303
    assert exact in api.c.get(f"/ui/meters/{meter}", params=RANGE).text


def test_a_non_terminating_avg_is_rounded_by_the_documented_rule_and_priced(api):
    meter = api.meter("avg", "avg.event", "avg", "v")
    for v in ("1", "1", "2"):
        api.events("cus_avg", "avg.event", WHEN, 1, {"v": v})
    third = "1." + "3" * 30  # 4/3 half-up to 30 places
    assert values(usage(api, meter)) == {"cus_avg": third}
    product = api.product([{"meter_id": meter, "price_per_unit": "3"}])
    api.customer("cus_avg")
    sub = api.subscribe("cus_avg", product)
    preview = api.ok("GET", f"/v1/subscriptions/{sub}/upcoming-invoice", params={"at": "2025-01-31T00:00:00Z"})
    assert preview["lines"][0]["quantity"] == third and preview["total"] == "4.00"  # 3.999…999 -> 4.00


@pytest.mark.parametrize("events, reason", [
    (["10", "-25"], "negative"),  # refunds larger than the usage of the period
    ([BIG] * 2, "not below 1e30"),  # a sum of two in-range values beyond the quantity range
])
def test_a_value_no_price_can_take_is_a_typed_error_naming_the_meter(api, events, reason):
    meter = api.meter("refunds", "pay.event", "sum", "v")
    for v in events:
        api.events("cus_r", "pay.event", WHEN, 1, {"v": v})
    product = api.product([{"meter_id": meter, "price_per_unit": "1"}])
    api.customer("cus_r")
    sub = api.subscribe("cus_r", product)
    r = api.c.get(f"/v1/subscriptions/{sub}/upcoming-invoice", params={"at": "2025-01-31T00:00:00Z"})
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["code"] == "unbillable_quantity" and err["field"] == "quantity"
    assert meter in err["message"] and reason in err["message"]


def test_invoice_totals_are_summed_exactly_near_1e36():
    price = {"model": "per_unit", "unit_price": "999999999999999999.99"}
    plan = parse_product({"name": "p", "currency": "USD", "fixed_fee": "0.01",
                          "meters": [{"meter_id": "a", "price": price}, {"meter_id": "b", "price": price}]})
    period = period_at(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC), plan.cycle,
                       datetime(2025, 1, 1, tzinfo=UTC))
    q = Decimal("999999999999999999")
    draft = assemble(period, [Segment(plan, period.start, period.end)],
                     {("a", period.start, period.end): q, ("b", period.start, period.end): q + 1})
    line = 99999999999999999999 * 999999999999999999  # cents, by integer arithmetic
    expected_cents = 1 + line + 99999999999999999999 * 1000000000000000000
    assert draft.total == Decimal(f"{expected_cents}E-2")  # (scaleb would round in the default context)
    assert draft.to_dict()["total"] == f"{expected_cents // 100}.{expected_cents % 100:02d}"
    assert draft.meter_quantity("b") == Decimal("1000000000000000000")
