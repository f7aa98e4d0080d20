"""Command line (a surface): ``meterbase serve | ingest | usage | keys | meters | blueprints | customers |
products | subscriptions | invoices | webhooks | sessions | audit | credits | policy | demo | db | version``.

``main`` assembles the commands, one module per group; ``common`` holds the shared options and output.
"""
