"""Storage: the only package with SQL (``tests/test_layering.py``), on SQLite (default, embedded) or
PostgreSQL via SQLAlchemy Core.

:class:`Store` (``store``) owns the engines and transactions; ``schema`` and ``schema_<domain>`` the
tables, ``migrations/`` their Alembic history (``migrate`` applies it); ingest and rollups (``events_repo``,
``rollups``, the folder ``fold`` and its server process ``fold_process``), usage queries (``usage``,
``usage_batch``); one repository module per domain (``meters_repo``,
``billing_*``, ``policy_*``, ``credits_repo``, ``wallets_repo``, ``sessions_repo``, ``keys_repo``, ``audit``,
``outbox``, ``webhooks_repo``, ``dashboard_queries``); and the machinery that makes writes safe on both
backends (``engine``, ``types``, ``locks``, ``retry``, ``writer_lock``, ``group_commit``, ``sequences``,
``upsert``).
"""

from .store import Store, open_store

__all__ = ["Store", "open_store"]
