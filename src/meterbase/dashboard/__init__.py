"""Web dashboard served under ``/ui`` by the API process (login with an API key).

The composition root (``meterbase.app``) includes :data:`meterbase.dashboard.routes.router` and wires
each section's provider (``dashboard.providers``). Pages: ``routes`` (login, overview, meters, events),
``customers``, ``billing_pages`` (invoices, products, money); rendering in ``pages``, sessions and CSRF
in ``session``, pure helpers in ``views``.
"""
