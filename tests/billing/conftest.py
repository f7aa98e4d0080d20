"""Billing test helpers: an in-process API client with meters, events, products and subscriptions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings
from meterbase.storage import open_store

UTC = timezone.utc


class Api:
    """Thin helpers over the HTTP API; every call asserts its status code."""

    def __init__(self, client: TestClient, store):
        self.c, self.store = client, store
        self._n = 0

    def ok(self, method: str, path: str, status: int = 200, **kw) -> dict:
        r = self.c.request(method, path, **kw)
        assert r.status_code == status, (r.status_code, r.text)
        return r.json()

    def meter(self, name: str, event_name: str, agg: str = "count", key: str | None = None, unit: str = "units") -> str:
        body = {"name": name, "event_name": event_name, "measurement_unit": unit, "aggregation": {"type": agg, "key": key}}
        return self.ok("POST", "/v1/meters", 201, json=body)["id"]

    def events(self, customer: str, event_name: str, when: datetime, n: int = 1, metadata: dict | None = None,
               step: timedelta = timedelta(0)) -> None:
        batch = []
        for i in range(n):
            self._n += 1
            batch.append({"event_id": f"ev_{self._n}", "customer_id": customer, "event_name": event_name,
                          "timestamp": (when + i * step).isoformat(), "metadata": metadata or {}})
        for i in range(0, len(batch), 1000):
            got = self.ok("POST", "/v1/events/ingest", json={"events": batch[i:i + 1000]})
            assert got["ingested_count"] == len(batch[i:i + 1000])

    def customer(self, cid: str) -> str:
        return self.ok("POST", "/v1/customers", 201, json={"id": cid, "email": f"{cid}@example.com", "name": cid})["id"]

    def product(self, meters: list[dict], fixed_fee: str = "0", name: str = "plan", currency: str = "USD",
                **extra) -> str:
        body = {"name": name, "currency": currency, "fixed_fee": fixed_fee, "meters": meters, **extra}
        return self.ok("POST", "/v1/products", 201, json=body)["id"]

    def subscribe(self, customer: str, product: str, start: str = "2025-01-01T00:00:00Z", **extra) -> str:
        body = {"customer_id": customer, "product_id": product, "start": start, **extra}
        return self.ok("POST", "/v1/subscriptions", 201, json=body)["id"]

    def invoice(self, sub: str, at: str, status: int | None = None) -> dict:
        r = self.c.post(f"/v1/subscriptions/{sub}/invoices", json={"at": at})
        assert r.status_code in ((status,) if status else (200, 201)), r.text
        return r.json()


@pytest.fixture()
def api(store) -> Api:
    token, _ = store.create_key("rw", "test_mode")
    app = create_app(store, Settings(database_url=store.url))
    return Api(TestClient(app, headers={"Authorization": f"Bearer {token}"}), store)


@pytest.fixture()
def db_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/billing.db"
    open_store(url).close()
    return url
