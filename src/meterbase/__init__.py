"""meterbase: self-hostable usage metering, limits and billing engine.

The package is split by domain. ``events`` and ``meters`` hold the pure core (no I/O);
``storage`` persists it (SQLite by default, PostgreSQL in production); ``api`` and ``cli``
are the surfaces that wrap storage.
"""

__version__ = "0.1.0"
