"""Web dashboard served under ``/ui`` by the API process (login with an API key).

``meterbase.api.app`` includes :data:`meterbase.dashboard.routes.router`.
"""
