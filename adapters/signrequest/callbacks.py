"""SignRequest event callbacks: authenticate them and reduce them to a `WebhookEvent`.

SignRequest signs each callback with `event_hash` = hex HMAC-SHA256(key = API token,
message = event_time + event_type). The hash covers neither the body nor the document, so:

* the event is only a hint: the engine confirms the state with `get_status` before acting;
* an `event_time` outside our replay window marks the event `stale` rather than refusing it: SignRequest
  retries a failed callback with its original time, and a delivery late after an outage should still
  shorten the wait. A stale event, like any, wakes its job at most once per wake interval.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeGuard

from adapters.transport.callback_json import callback_json
from connector.ports.provider import SigningState, WebhookEvent, WebhookRejected

PROVIDER = "signrequest"
# Event types not listed here (SignRequest may add some) are accepted without a hint.
EVENT_HINTS = {
    "converted": SigningState.SENT,  # the document is ready; the request goes out next
    "sent": SigningState.SENT,
    "signer_viewed_email": SigningState.VIEWED,
    "viewed": SigningState.VIEWED,
    "signer_viewed": SigningState.VIEWED,
    "signer_signed": SigningState.PARTIALLY_SIGNED,
    "signed": SigningState.COMPLETED,
    "declined": SigningState.DECLINED,
    "cancelled": SigningState.CANCELLED,
    "expired": SigningState.EXPIRED,
    "convert_error": SigningState.FAILED,
    "sending_error": SigningState.FAILED,
}


def event_hash(api_token: str, event_time: str, event_type: str) -> str:
    message = f"{event_time}{event_type}".encode("utf-8", "surrogatepass")  # JSON may carry lone surrogates
    return hmac.new(api_token.encode(), message, hashlib.sha256).hexdigest()


def parse_callback(headers: Mapping[str, str], body: bytes, *, api_token: str, now: float,
                   replay_window: float) -> WebhookEvent:
    """Raise `WebhookRejected` for anything that is not an authentic, well-formed callback."""
    payload = _json_object(headers, body)
    event_time, event_type, given_hash = _signed_fields(payload)
    # As bytes: compare_digest refuses str holding non-ASCII characters, and the hash is the sender's.
    expected = event_hash(api_token, event_time, event_type).encode()
    if not hmac.compare_digest(expected, given_hash.lower().encode("utf-8", "surrogatepass")):
        raise WebhookRejected(401, "event_hash does not match")
    occurred_at = _event_time(event_time)
    document, event_uuid = payload.get("document"), payload.get("uuid")
    document_uuid = document.get("uuid") if isinstance(document, dict) else None
    if not _text(document_uuid):
        raise WebhookRejected(400, "callback lacks document.uuid")
    if not _text(event_uuid):
        raise WebhookRejected(400, "callback lacks the event uuid")
    assert isinstance(document, dict)  # checked with document_uuid above
    external_id = document.get("external_id")
    return WebhookEvent(provider=PROVIDER, event_id=event_uuid, request_id=document_uuid, kind=event_type,
                        external_id=external_id if _text(external_id) else None, occurred_at=occurred_at,
                        state_hint=EVENT_HINTS.get(event_type),
                        stale=abs(now - occurred_at.timestamp()) > replay_window)


def _json_object(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise WebhookRejected(415, "SignRequest callbacks must be application/json")
    payload = callback_json(body)
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "callback body is not a JSON object")
    return payload


def _signed_fields(payload: Mapping[str, Any]) -> tuple[str, str, str]:
    event_time = payload.get("event_time")
    if isinstance(event_time, int) and not isinstance(event_time, bool):
        event_time = str(event_time)  # documented as a string; tolerate a bare number
    event_type, given_hash = payload.get("event_type"), payload.get("event_hash")
    if not (_text(event_time) and _text(event_type) and _text(given_hash)):
        raise WebhookRejected(400, "callback lacks event_time, event_type or event_hash")
    return event_time, event_type, given_hash


def _event_time(event_time: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(event_time), UTC)
    except (ValueError, OverflowError, OSError):
        raise WebhookRejected(400, "event_time is not a Unix time") from None


def _text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)
