"""Command line: ``meterbase serve | keys | ingest | meters | usage | demo | db``."""
