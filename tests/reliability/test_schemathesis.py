"""Property-based API fuzzing with schemathesis over the app's own OpenAPI schema (/openapi.json).

Every operation under test gets generated requests, valid and invalid, sent with a valid key through the
in-process ASGI app, on SQLite and PostgreSQL. Checks: no 5xx; status codes, content types, headers and
bodies conform to the schema — every 2xx body is validated against its documented response model, errors
against the documented ``{code, message, field}``; schema-invalid input is rejected with a 4xx. Path ids
are half the time replaced by ids that exist (seeded below), so the generated query strings and bodies
reach real meters, events, customers, products, subscriptions and invoices, not only 404s.
Bounded and deterministic: a few examples per operation and mode, derandomized, no shrinking.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import GenerationMode

from support.fuzz import authenticate, fuzz_operations

from meterbase.api import create_app
from meterbase.config import Settings

# Ingest, events, meters and usage (native and Dodo-compatible), customers, products, subscriptions (create,
# change plan, cancel, invoice, thresholds, periods), invoices (run, finalize, void), invoice runs, skipped
# periods, adjustments, the Dodo billing routes,
# entitlements, policy versions, the audit log, portal tokens, /v1/me and /healthz.
PATHS = (
    r"^/v1/events(/ingest|/\{event_id\})?$|^/events(/ingest|/\{event_id\})?$"
    r"|^/v1/meters(/\{meter_id\}(/usage|/archive|/unarchive)?)?$|^/meters(/\{meter_id\}(/unarchive)?)?$"
    r"|^/v1/invoices(/run|/\{invoice_id\}(/finalize|/void)?)?$|^/v1/customers(/\{customer_id\})?$"
    r"|^/v1/products(/\{product_id\})?$|^/v1/subscriptions(/\{subscription_id\})?$"
    r"|^/v1/subscriptions/\{subscription_id\}/(upcoming-invoice|change-plan|cancel|invoices|thresholds/check|periods)$"
    r"|^/v1/invoice-runs(/\{run_id\})?$|^/v1/(skipped-periods|adjustments)$"
    r"|^/(products|customers|subscriptions)(/\{(product_id|customer_id|subscription_id)\})?$"
    r"|^/v1/policy/customers/\{customer_id\}(/entitlements/\{entitlement\}(/remaining|/value|/limit)?)?$"
    r"|^/v1/policy/versions(/\{version\})?$|^/v1/audit$|^/v1/portal-tokens(/\{token_id\}/revoke)?$|^/v1/me$|^/healthz$"
)
#: Bodies whose schema cannot say everything the core checks (a price model's tiers ascending; the Dodo
#: SDK's open objects): valid input is generated for them, but no "invalid" input (it may be valid).
POSITIVE_ONLY = {"POST /v1/products", "POST /products", "POST /customers", "POST /subscriptions"}
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
POLICY = """
policy:
  credits:
    gpu_second: {pricing_model: flat, price: {amount: 0.0004}, stof_units: s, resets: true}
  plans:
    free:
      period: monthly
      default: true
      entitlements:
        gpu_compute:
          limit: {credit: gpu_second, mode: hard, value: '1hr', resets: true, reset_inc: 30days}
"""


@pytest.fixture()
def fuzz_target(store):
    token, _ = store.create_key("fuzz", "test_mode")
    app = create_app(store, Settings(database_url=store.url, max_body_bytes=100_000, rate_limit_rps=0))
    c = TestClient(app, headers={"Authorization": f"Bearer {token}"})

    def ok(method, path, status=200, **kw):
        r = c.request(method, path, **kw)
        assert r.status_code == status, r.text
        return r.json()

    meter = ok("POST", "/v1/meters", 201, json={"name": "tokens", "event_name": "api.call",
                                                 "aggregation": {"type": "sum", "key": "n"}})["id"]
    ok("POST", "/v1/events/ingest", json={"events": [
        {"event_id": f"seed{i}", "customer_id": "cus_a", "event_name": "api.call",
         "timestamp": f"2025-01-{10 + i:02d}T10:30:00Z", "metadata": {"n": i, "model": "m"}} for i in range(5)]})
    ok("POST", "/v1/customers", 201, json={"id": "cus_a", "email": "a@example.com", "name": "A"})
    product = ok("POST", "/v1/products", 201, json={"name": "p", "currency": "USD", "fixed_fee": "10",
                                                      "meters": [{"meter_id": meter, "price_per_unit": "0.5"}]})["id"]
    sub = ok("POST", "/v1/subscriptions", 201, json={"customer_id": "cus_a", "product_id": product,
                                                      "start": "2025-01-01T00:00:00Z"})["id"]
    invoice = ok("POST", f"/v1/subscriptions/{sub}/invoices", 201, json={"at": "2025-01-15T00:00:00Z"})["id"]
    run = ok("POST", "/v1/invoices/run", json={"until": "2025-03-01T00:00:00Z", "finalize": True})["run_id"]
    ok("PUT", "/v1/policy", content=POLICY, headers={"Content-Type": "application/yaml"})
    ok("POST", "/v1/policy/customers", json={"customer_id": "cus_a"})
    known = {"meter_id": meter, "event_id": "seed1", "customer_id": "cus_a", "subscription_id": sub,
             "invoice_id": invoice, "entitlement": "gpu_compute", "version": 1, "product_id": product, "run_id": run}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=PATHS)
    return authenticate(schema, token), known


def test_api_conforms_to_its_schema(fuzz_target):
    schema, known = fuzz_target
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 55, [op.label for op in operations]
    failures = fuzz_operations(operations, known, EXAMPLES, POSITIVE_ONLY)
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
