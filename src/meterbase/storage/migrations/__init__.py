"""Alembic migrations for the meterbase schema (run by ``Store.init_schema`` / ``meterbase db upgrade``)."""
