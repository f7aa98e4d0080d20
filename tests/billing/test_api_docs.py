"""The API documents itself: every operation (except the policy and sessions routes, documented
elsewhere) has a response schema, a description on every parameter, a documented body when it reads
one, the bearer scheme; /docs and /redoc are served from packaged assets, never a CDN."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from meterbase.api import create_app
from meterbase.config import Settings

OTHERS = re.compile(r"^/v1/(policy|sessions)|^/v1/customers/\{customer_id\}/sessions")
#: write routes that take no body at all
NO_BODY = {("post", "/v1/meters/{meter_id}/archive"), ("post", "/v1/meters/{meter_id}/unarchive"),
           ("post", "/meters/{meter_id}/unarchive"), ("delete", "/meters/{meter_id}"),
           ("post", "/v1/invoices/{invoice_id}/finalize"), ("post", "/v1/invoices/{invoice_id}/void"),
           ("post", "/v1/portal-tokens/{token_id}/revoke"), ("post", "/v1/subscriptions/{subscription_id}/thresholds/check"),
           ("post", "/credit-entitlements/{id}/undelete"), ("post", "/v1/credit-entitlements/{entitlement_id}/undelete"),
           ("post", "/v1/credits/settle")}


@pytest.fixture()
def app(store):
    return create_app(store, Settings(database_url=store.url))


def operations(doc):
    for path, item in doc["paths"].items():
        if OTHERS.search(path):
            continue
        for method, op in item.items():
            yield path, method, op


def test_every_operation_is_documented(app):
    doc = app.openapi()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {**doc["components"]["securitySchemes"]["bearerAuth"],
                                                                   "type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    missing = []
    for path, method, op in operations(doc):
        ok = [code for code in op["responses"] if code.startswith("2")]
        if not ok:
            missing.append(f"{method} {path}: no 2xx")
        for code in ok:
            if code != "204" and not op["responses"][code].get("content", {}).get("application/json", {}).get("schema"):
                missing.append(f"{method} {path}: {code} has no schema")
        for param in op.get("parameters", []):
            if not param.get("description"):
                missing.append(f"{method} {path}: parameter {param['name']} has no description")
        if method in ("post", "put", "patch") and (method, path) not in NO_BODY:
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if not body:
                missing.append(f"{method} {path}: no documented body")
    assert missing == []
    n = sum(1 for _ in operations(doc))
    assert n >= 50


def test_customer_creation_documents_its_required_email(app):
    doc = app.openapi()
    body = doc["paths"]["/v1/customers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"email", "name"} and "Required" in schema["properties"]["email"]["description"]
    product = doc["components"]["schemas"]["ProductCreate"]
    assert product["required"] == ["name", "currency"] and product["additionalProperties"] is False
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', __import__("json").dumps(doc))
    assert set(refs) <= set(doc["components"]["schemas"])  # every reference resolves


def test_docs_pages_are_served_from_the_package(app):
    c = TestClient(app)
    docs, redoc = c.get("/docs").text, c.get("/redoc").text
    assert "/docs/assets/swagger-ui-bundle.js" in docs and "/docs/assets/swagger-ui.css" in docs
    assert "/docs/assets/redoc.standalone.js" in redoc
    for page in (docs, redoc):
        assert not re.search(r"https?://(?!127\.0\.0\.1)[a-z]", re.sub(r"https?://(www\.)?w3\.org[^\"' ]*", "", page))
    js = c.get("/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"] and len(js.content) > 100_000
    assert c.get("/docs/assets/redoc.standalone.js").status_code == 200
    assert c.get("/docs/assets/../__init__.py").status_code == 404
    assert c.get("/docs/assets/nope.js").status_code == 404
