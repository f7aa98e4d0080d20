"""Issue 19 item 1, the reproduction's own values: a negative "refund" event (``"v": "-500"``), a total
≥ 1e18, a value of more than 18 decimals and an ``avg`` of 1, 1, 2 used to make ``POST /v1/invoices/run``
answer 422 with no invoice for anyone. Now the values metering accepts are priced (≥ 1e18 and 20 decimals
are inside the one value range, the avg is rounded by its rule), the one period no price can take (the
refund) is skipped and named, and every other customer's invoice is created; the previews agree.
(The skip's record, webhook, CLI, dashboard and the modes: ``billing/test_run_isolation.py``.)
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.invoicing import Billing

VALUES = {
    "cus_refund": ["100", "-500"],  # refunds larger than the usage: -400, no price can take it
    "cus_1e18": ["1000000000000000000", "1000000000000000000"],  # a total of 2e18
    "cus_decimals": ["0.00000000000000000001"],  # 20 decimal places
    "cus_plain": ["7"],
}


def test_the_reproductions_values_bill_everyone_but_the_refund(store):
    env, b = "test_mode", Billing(store)
    pay = store.create_meter(env, {"name": "pay", "event_name": "pay", "measurement_unit": "usd",
                                   "aggregation": {"type": "sum", "key": "v"}}).id
    lat = store.create_meter(env, {"name": "lat", "event_name": "lat", "measurement_unit": "ms",
                                   "aggregation": {"type": "avg", "key": "v"}}).id
    product = b.create_product(env, {"name": "p", "currency": "USD", "meters": [
        {"meter_id": pay, "price_per_unit": "0.000001"}, {"meter_id": lat, "price_per_unit": "3"}]})
    events, subs = [], {}
    for cid, values in {**VALUES, "cus_avg": []}.items():
        b.create_customer(env, {"id": cid, "email": f"{cid}@x.io", "name": cid})
        subs[cid] = b.create_subscription(env, {"customer_id": cid, "product_id": product.id,
                                                "start": "2025-01-01T00:00:00Z"}).id
        events += [{"event_id": f"{cid}{i}", "customer_id": cid, "event_name": "pay",
                    "timestamp": "2025-01-10T00:00:00Z", "metadata": {"v": v}} for i, v in enumerate(values)]
    events += [{"event_id": f"avg{i}", "customer_id": "cus_avg", "event_name": "lat",
                "timestamp": "2025-01-10T00:00:00Z", "metadata": {"v": v}} for i, v in enumerate(["1", "1", "2"])]
    assert store.ingest(env, events).to_dict()["ingested_count"] == len(events)  # metering accepts every value

    token, _ = store.create_key("rw", env)
    api = TestClient(create_app(store, Settings(database_url=store.url)), headers={"Authorization": f"Bearer {token}"})
    previews = {cid: api.get(f"/v1/subscriptions/{sub}/upcoming-invoice", params={"at": "2025-01-31T00:00:00Z"})
                for cid, sub in subs.items()}
    assert {cid: r.status_code for cid, r in previews.items()} == {**{c: 200 for c in subs}, "cus_refund": 422}
    bad = previews["cus_refund"].json()
    assert bad["code"] == "unbillable_quantity" and pay in bad["message"] and "-400" in bad["message"]

    run = api.post("/v1/invoices/run", json={"until": "2025-02-01T00:00:00Z", "finalize": True})
    assert run.status_code == 200, run.text
    done = run.json()
    assert len(done["created"]) == len(done["finalized"]) == 4
    [skip] = done["skipped"]
    assert (skip["customer_id"], skip["subscription_id"], skip["meter_id"], skip["value"], skip["reason"]) == \
           ("cus_refund", subs["cus_refund"], pay, "-400", "negative")
    totals = {i["customer_id"]: i["total"] for i in api.get("/v1/invoices").json()["data"]}
    assert totals == {"cus_1e18": "2000000000000.00", "cus_decimals": "0.00", "cus_plain": "0.00", "cus_avg": "4.00"}
    for cid in totals:  # each invoice is what its preview said
        assert previews[cid].json()["total"] == totals[cid]
