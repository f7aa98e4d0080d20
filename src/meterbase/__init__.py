"""meterbase: self-hostable usage metering, limits and billing engine.

The package is split by domain, one folder each, in the order an event travels
(event → meter → price → invoice, and check / allow beside it). Layers, outermost first
(``tests/test_layering.py`` enforces them): surfaces → use cases → storage → the pure core.

Pure core (no I/O; imports only the pure core):

* ``events/``    the usage records clients send: validation, normalisation, metadata value semantics.
* ``meters/``    meter definitions, filters, mergeable aggregation partials, time windows.
* ``pricing/``   money and the one rounding rule, price models (per unit, graduated, volume, package, flat), priced
  lines, proration, the billable-quantity rule.
* ``billing/``   billing rules: cycles and periods, products as plans, invoice assembly, grace periods,
  carry-forward adjustments, credits a product issues, Dodo product shapes.
* top-level modules shared by every domain: ``periods`` (periods from an anchor: the one period module of
  billing, policy and credits), ``units`` (unit strings), ``exact`` (exact decimals), ``timeutil``,
  ``ids``, ``errors``, ``formatting``.

Domains with their pure rules and their use cases side by side:

* ``invoicing/`` use cases that turn the billing rules into stored invoices: the ``Billing`` service, the
  ``Pricer``, the invoice run, late usage, and invoice lines from policy, credits and wallets.
* ``policy/``    check / allow: the policy document (plans, entitlements, limits, spend caps), the pure
  engine, and ``PolicyService`` that keeps its state durable.
* ``credits/``   prepaid credit ledgers (grants, FIFO deduction, expiry, rollover, overage) and customer
  wallets: pure rules plus ``CreditService`` / ``WalletService``.
* ``sessions/``  live sessions metered at stop: pure states and durations, ``SessionService``.
* ``webhooks/``  Standard-Webhooks signing, endpoints, and delivery of the durable outbox.

Storage (the only place with SQL):

* ``eventstore/`` the event-store interface (a Protocol): ingest, events, fold and watermark, usage reads.
* ``storage/``   SQLAlchemy Core on SQLite (default) or PostgreSQL: the ``Store``, schema and Alembic
  migrations, the SQL event store (events only at ingest, a folder moving them into rollups behind a
  watermark, usage reads merging both), the repositories of every domain.

Surfaces (``app.py`` is the composition root that wires them):

* ``api/``       FastAPI: native ``/v1`` routes, Dodo-compatible routes, request/response models.
* ``dashboard/`` the web UI under ``/ui``; each domain contributes a ``dashboard_provider``.
* ``cli/``       the ``meterbase`` command (Typer).
* ``sdk/``       the Python client, batched ingestion and the ingestion blueprints.
"""

__version__ = "0.1.0"
