"""Issue 19 item 5: absurd policy amounts are a clear 4xx naming `amount`, never a 500, on check and allow.

`"amount": "1e30"` on a soft plan used to overflow the decimal text of the usage event (a 500 after the decision
was taken). Amounts are bounded like event values (magnitude below 1e30, at most 30 decimal places, after
conversion into the credit's units), so what is metered can always be aggregated.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings


@pytest.fixture()
def api(store, seed_text):
    token, _ = store.create_key("t", "test_mode")
    client = TestClient(create_app(store, Settings(database_url=store.url)), raise_server_exceptions=False,
                        headers={"Authorization": f"Bearer {token}"})
    assert client.put("/v1/policy", content=seed_text, headers={"Content-Type": "application/yaml"}).status_code == 200
    assert client.post("/v1/policy/customers", json={"customer_id": "cus_pro", "plan": "pro"}).status_code == 200
    return client


@pytest.mark.parametrize("verb", ["check", "allow"])
@pytest.mark.parametrize("amount", ["1e30", 1e30, "1e30s", "1e300", "-1e30", "1e29hr", "1e-31", 1e-31])
def test_out_of_range_amounts_are_refused_with_a_4xx(api, verb, amount):
    r = api.post(f"/v1/policy/{verb}", json={"customer_id": "cus_pro", "entitlement": "gpu_compute", "amount": amount})
    assert r.status_code == 422, r.text
    message = r.json()["message"]
    assert r.json()["field"] == "amount" and ("1e30" in message or "decimal places" in message), message
    status = api.get("/v1/policy/customers/cus_pro/entitlements/gpu_compute").json()
    assert status["used"] == "0"  # nothing half-written


def test_the_largest_amounts_are_metered_exactly(api):
    big = "9" * 29 + "." + "9" * 30  # just under 1e30, 30 decimal places
    d = api.post("/v1/policy/allow", json={"customer_id": "cus_pro", "entitlement": "gpu_compute", "amount": big})
    assert d.status_code == 200, d.text
    assert d.json()["consumed"] == big and d.json()["price_diff"] is not None
    again = api.post("/v1/policy/allow", json={"customer_id": "cus_pro", "entitlement": "gpu_compute", "amount": big})
    assert again.status_code == 200 and again.json()["used_after"] == "1" + "9" * 29 + "." + "9" * 29 + "8"
