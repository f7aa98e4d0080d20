"""Webhooks: Standard-Webhooks signing and verification, endpoints, and outbox delivery with retries.

Messages are queued by writers with ``storage.outbox.enqueue`` in the transaction of the change
they announce; :class:`Deliverer` posts them, signed, and retries with exponential backoff.
"""

from .delivery import Deliverer, backoff
from .endpoints import add_endpoint, list_endpoints
from .signing import WebhookVerificationError, new_secret, sign, verify

__all__ = ["Deliverer", "WebhookVerificationError", "add_endpoint", "backoff", "list_endpoints", "new_secret",
           "sign", "verify"]
