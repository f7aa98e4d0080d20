"""Route modules: native ``/v1`` API and the Dodo-compatible surface."""
