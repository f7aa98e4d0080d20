"""meterbase benchmarks: ``python -m bench [ingest|query|policy|invoices|all] [--smoke] [--json out.json]``.

1. ``ingest``   — HTTP and SDK ingest throughput against a live multi-worker server (SQLite and PostgreSQL)
2. ``query``    — usage queries on rollups at two data sizes vs a naive raw-event scan
3. ``policy``   — PolicyService check/allow latency, in-process and over HTTP
4. ``invoices`` — an invoice run over 100k subscriptions

Results print as tables (targets beside measured values) and are written to ``bench/results/latest.json``.
"""

SECTIONS = ("ingest", "query", "policy", "invoices")
