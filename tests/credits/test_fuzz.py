"""Schemathesis over the credits and wallets operations of ``/openapi.json`` (native and Dodo-compatible), both
backends: no 5xx, answers conform to the documented schemas, schema-invalid input gets a 4xx. Path ids are half
the time replaced by ones that exist, so generated bodies reach real entitlements and balances."""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from schemathesis import GenerationMode

from support.fuzz import authenticate, fuzz_operations

from meterbase.api import create_app
from meterbase.config import Settings

PATHS = r"^(/v1)?/credit-entitlements|^(/v1)?/customers/\{customer_id\}/(wallets|credit)|^/v1/credits/"
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 6}


def test_credits_api_conforms_to_its_schema(store):
    token, _ = store.create_key("fuzz", "test_mode")
    app = create_app(store, Settings(database_url=store.url, max_body_bytes=100_000, rate_limit_rps=0))
    c = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    ent = c.post("/v1/credit-entitlements", json={"name": "f", "unit": "u", "precision": 2, "overage_enabled": True,
                                                  "price_per_unit": "0.01", "currency": "USD"}).json()["id"]
    assert c.post(f"/v1/credit-entitlements/{ent}/balances/cus_a/ledger-entries",
                  json={"entry_type": "credit", "amount": "100"}).status_code == 201
    known = {"entitlement_id": ent, "id": ent, "credit_entitlement_id": ent, "customer_id": "cus_a"}
    schema = authenticate(schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=PATHS), token)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 28, [op.label for op in operations]
    failures = fuzz_operations(operations, known, EXAMPLES)
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
