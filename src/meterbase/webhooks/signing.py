"""Standard Webhooks signatures: ``webhook-signature: v1,<base64 HMAC-SHA256("id.timestamp.body")>``.

Secrets look like ``whsec_<base64 key>`` (the key is the base64-decoded part, as in the Standard
Webhooks libraries, so their verifiers accept meterbase's messages); any other string is used as
raw UTF-8 key bytes. ``webhook-timestamp`` is integer seconds since the epoch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Mapping

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(Exception):
    """The message is not authentic (bad or missing signature) or too old/new."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret[len(PREFIX):]) if secret.startswith(PREFIX) else secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """The ``webhook-signature`` value for one message."""
    payload = body if isinstance(body, bytes) else body.encode()
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body), "content-type": "application/json"}


def verify(secret: str, received: Mapping[str, str], body: str | bytes, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> str:
    """Check a received message; returns its id or raises :class:`WebhookVerificationError`.

    ``received`` is the request's headers (case-insensitive keys are looked up in lower case too).
    Any of several space-separated ``v1,`` signatures may match (key rotation).
    """
    h = {k.lower(): v for k, v in received.items()}
    msg_id, stamp, sigs = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not (msg_id and stamp and sigs):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        ts = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance window")
    expected = sign(secret, msg_id, ts, body)
    if not any(hmac.compare_digest(expected, s) for s in sigs.split() if s.startswith("v1,")):
        raise WebhookVerificationError("no matching signature")
    return msg_id
