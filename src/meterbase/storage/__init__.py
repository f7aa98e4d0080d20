"""Storage: persists the pure core. SQLite (default, embedded) and PostgreSQL via SQLAlchemy Core."""

from .store import Store, open_store

__all__ = ["Store", "open_store"]
