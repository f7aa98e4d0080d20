"""The credits domain's HTTP surface in one router: native ``/v1`` credits, Dodo-compatible credits, wallets."""

from __future__ import annotations

from fastapi import APIRouter

from . import credits, dodo_credits, wallets

router = APIRouter()
router.include_router(credits.router)
router.include_router(dodo_credits.router)
router.include_router(wallets.router)
