"""Rendering shared by the dashboard's pages: templates and their filters, error pages, form bodies."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from .. import __version__
from ..formatting import fmt_money, fmt_quantity, fmt_quantity_exact, unit_kind
from ..pricing import from_minor
from ..storage.keys_repo import ENVIRONMENTS
from ..timeutil import iso_us
from .session import UiSession, csrf_token
from .views import RANGE_LABELS, fmt_num, fmt_time, percent

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters.update(num=fmt_num, time=fmt_time, pct=percent, us_iso=iso_us, money=fmt_money,
                             qty=fmt_quantity, qty_exact=fmt_quantity_exact, unit_kind=unit_kind,
                             rate=lambda v, c: fmt_money(v, c, rate=True),
                             dictsum=lambda d: {k: sum(v.values()) for k, v in d.items()},
                             wallet_money=lambda minor, c: fmt_money(from_minor(minor, c), c))
templates.env.globals.update(version=__version__, RANGE_LABELS=RANGE_LABELS, WINDOWS=("minute", "hour", "day", "month"))

MODE_LABELS = {"test_mode": "Test mode", "live_mode": "Live mode"}


def render(request: Request, name: str, s: UiSession | None, status: int = 200, **ctx) -> Response:
    ctx.update(session=s, mode=s.mode if s else None, MODE_LABELS=MODE_LABELS, ENVIRONMENTS=ENVIRONMENTS,
               path=request.url.path, server_url=str(request.base_url).rstrip("/"),
               csrf=csrf_token(request) if s else "")
    return templates.TemplateResponse(request, name, ctx, status_code=status)


def not_found(request: Request, s: UiSession, title: str, message: str, section: str) -> Response:
    return render(request, "not_found.html", s, 404, title=title, message=message, active=section)


async def read_form(request: Request) -> dict[str, str]:
    body = (await request.body())[:16384].decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
