"""``python -m meterbase`` runs the CLI."""

from .cli.main import app

app()
