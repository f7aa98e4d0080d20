"""Schemathesis over the credits and wallets operations of ``/openapi.json`` (native and Dodo-compatible), both
backends: no 5xx, answers conform to the documented schemas, schema-invalid input gets a 4xx. Path ids are half
the time replaced by ones that exist, so generated bodies reach real entitlements and balances."""

from __future__ import annotations

import time

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from meterbase.api import create_app
from meterbase.config import Settings

PATHS = r"^(/v1)?/credit-entitlements|^(/v1)?/customers/\{customer_id\}/(wallets|credit)|^/v1/credits/"
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 6}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
BUDGET_SECONDS = 120


def test_credits_api_conforms_to_its_schema(store):
    token, _ = store.create_key("fuzz", "test_mode")
    app = create_app(store, Settings(database_url=store.url, max_body_bytes=100_000, rate_limit_rps=0))
    c = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    ent = c.post("/v1/credit-entitlements", json={"name": "f", "unit": "u", "precision": 2, "overage_enabled": True,
                                                  "price_per_unit": "0.01", "currency": "USD"}).json()["id"]
    assert c.post(f"/v1/credit-entitlements/{ent}/balances/cus_a/ledger-entries",
                  json={"entry_type": "credit", "amount": "100"}).status_code == 201
    known = {"entitlement_id": ent, "id": ent, "credit_entitlement_id": ent, "customer_id": "cus_a"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 28, [op.label for op in operations]
    auth = {"Authorization": f"Bearer {token}"}
    failures: dict[str, str] = {}
    started = time.monotonic()
    for op in operations:
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if len(op.query) or len(op.body) else [])
        for mode in modes:

            @given(case=op.as_strategy(generation_mode=mode), use_known=st.booleans())
            @settings(max_examples=EXAMPLES[mode], derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def fuzz(case, use_known):
                if use_known and case.path_parameters:
                    for name in case.path_parameters:
                        if name in known:
                            case.path_parameters[name] = known[name]
                case.call_and_validate(headers=auth, checks=CHECKS)

            try:
                fuzz()
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
                failures[f"{op.label} ({mode.value})"] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert time.monotonic() - started < BUDGET_SECONDS
