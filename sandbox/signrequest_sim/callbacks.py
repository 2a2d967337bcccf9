"""SignRequest's callback signature: HMAC-SHA256 of event_time + event_type, keyed with the API token."""

from __future__ import annotations

import hashlib
import hmac


def event_hash(api_token: str, event_time: str, event_type: str) -> str:
    return hmac.new(api_token.encode(), f"{event_time}{event_type}".encode(), hashlib.sha256).hexdigest()
