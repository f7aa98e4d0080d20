"""API documentation served by the server itself: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

Their JavaScript and CSS come from the ``fastapi-offline`` package (pinned in ``pyproject.toml``;
only its static files are used) and are served under ``/docs/assets/``, so the pages work without
internet access: no CDN, no web fonts. The OpenAPI document gets a bearer security scheme
(``Authorization: Bearer <API key or portal token>``), applied to every operation except those
marked ``PUBLIC`` (``openapi_extra``), which Swagger UI's *Authorize* button then fills in.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse
from pydantic.json_schema import models_json_schema

from ..errors import NotFound
from .schemas import BODIES

ASSETS = (Path(fastapi_offline.__file__).parent / "static").resolve()
ASSET_URL = "/docs/assets"
SCHEME = "bearerAuth"
#: The documentation pages may load nothing from elsewhere (ReDoc's footer logo would come from its CDN).
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:")
#: ``openapi_extra`` of operations that need no token.
PUBLIC = {"security": []}
BEARER = {
    "type": "http", "scheme": "bearer", "bearerFormat": "mb_test_… / mb_live_… API key, or mb_portal_… token",
    "description": "An API key (`meterbase keys create`; the mode of the key is the data you see) or a customer "
                   "portal token. Send `Authorization: Bearer <token>`.",
}


def _openapi(app: FastAPI):
    def build() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags)
            components = schema.setdefault("components", {})
            components.setdefault("securitySchemes", {})[SCHEME] = BEARER
            schema["security"] = [{SCHEME: []}]
            if BODIES:  # bodies the routes parse themselves, documented with schemas.body_doc
                _, defs = models_json_schema([(m, "validation") for m in BODIES],
                                             ref_template="#/components/schemas/{model}")
                for name, definition in defs.get("$defs", {}).items():
                    components.setdefault("schemas", {}).setdefault(name, definition)
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def _local(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page


def install(app: FastAPI) -> None:
    """``/docs``, ``/redoc`` and their assets on ``app`` (built with ``docs_url=None, redoc_url=None``)."""
    app.openapi = _openapi(app)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _local(get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} API", swagger_js_url=f"{ASSET_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSET_URL}/swagger-ui.css", swagger_favicon_url=f"{ASSET_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "tryItOutEnabled": True,
                                   "displayRequestDuration": True, "validatorUrl": None}))

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _local(get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} API",
                                     redoc_js_url=f"{ASSET_URL}/redoc.standalone.js",
                                     redoc_favicon_url=f"{ASSET_URL}/favicon.png", with_google_fonts=False))

    @app.get(ASSET_URL + "/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        target = (ASSETS / name).resolve()
        if target.parent != ASSETS or not target.is_file():
            raise NotFound(f"no documentation asset {name!r}", "name")
        media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media, headers={"Cache-Control": "public, max-age=86400"})
