"""Legalesign realtime callbacks: the secret path they must arrive on, and a strict body check.

Legalesign signs realtime callbacks with `X-Hmac-Sha256` / `X-Signed-Sha256` headers whose key and
signed bytes are not public, so nothing in a callback can be verified. Instead:

* the callback URL registered with Legalesign ends in a secret segment, `callback_path_token()`,
  an HMAC of a fixed label under the operator's callback secret. The webhook server serves
  `/webhooks/legalsign/<token>` and asks `accepts_path_token(token)` (constant-time) before it
  reads the body; every other path under `/webhooks/legalsign` answers 404;
* the body is checked strictly here and reduced to a `WebhookEvent` whose `state_hint` is only a
  hint: the engine confirms the state with `get_status` (an authenticated API read) before acting;
* events older or newer than the replay window are kept as `stale` hints, not refused: a delivery
  late after an outage still shortens the wait, and a stale event, like any, wakes its job at most once
  per wake interval;
* `data.group` is not checked. The published schema calls it only "Group" (a string), GET /notifications/
  reports a hook's group as an integer id, and a display name is as plausible: refusing what is not our
  slug could drop every callback, while the secret path already authenticates the sender and the document
  id, confirmed through the API, decides what the event concerns. Another group's document matches no job
  (the webhook is registered with a group filter, so such events should not come at all).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from adapters.transport.callback_json import callback_json
from connector.ports.provider import SigningState, WebhookEvent, WebhookRejected

_PATH_LABEL = b"legalsign realtime callback path v1"
_RESOURCE_ID = re.compile(r"[-\w]{1,64}")
_OBJECTS = ("document", "recipient")
_HINTS = {
    "document.created": SigningState.SENT,
    "document.finalPdfCreated": SigningState.COMPLETED,
    "document.rejected": SigningState.DECLINED,
    "recipient.rejected": SigningState.DECLINED,
    "recipient.completed": SigningState.PARTIALLY_SIGNED,
    "recipient.visiting": SigningState.VIEWED,
}


def path_token(callback_secret: str) -> str:
    """43 url-safe characters (256 bits), stable for a given secret."""
    digest = hmac.new(callback_secret.encode(), _PATH_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def token_matches(callback_secret: str, token: str | None) -> bool:
    if not callback_secret or token is None:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters, and the token comes from the URL.
    return hmac.compare_digest(token.encode("utf-8", "surrogatepass"), path_token(callback_secret).encode())


def _refuse(reason: str) -> WebhookRejected:
    return WebhookRejected(400, reason)


def _event_name(event: dict) -> tuple[str, str]:
    """(object, event): Legalesign's filters say `document.finalPdfCreated`; the body may carry the
    split form (`object` + `event`) or the dotted one in `event`, so both are accepted."""
    name, obj = event.get("event"), event.get("object")
    if not isinstance(name, str) or not name:
        raise _refuse("callback has no event name")
    if "." in name:
        prefix, name = name.split(".", 1)
        if obj not in (None, prefix):
            raise _refuse("callback object and event name disagree")
        obj = prefix
    if obj not in _OBJECTS or not re.fullmatch(r"[A-Za-z]{1,40}", name):
        raise _refuse("callback names an unknown object or a malformed event")
    return obj, name


def parse_realtime_callback(headers: Mapping[str, str], body: bytes, *, provider: str, now: float,
                            replay_window: float) -> WebhookEvent:
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise WebhookRejected(415, "Legalsign realtime callbacks must be application/json")
    event = callback_json(body)
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise _refuse("callback body is not an event object with data")
    obj, name = _event_name(event)
    data = event["data"]
    document_id = data.get("uuid") if obj == "document" else data.get("document")
    if not isinstance(document_id, str) or not _RESOURCE_ID.fullmatch(document_id):
        raise _refuse("callback names no valid document id")
    created = event.get("created")
    # `created` is an int32 in Legalesign's connector spec: epoch seconds.
    if not isinstance(created, int) or isinstance(created, bool):
        raise _refuse("callback has no integer creation time")
    try:
        occurred_at = datetime.fromtimestamp(created, UTC)
    except (ValueError, OverflowError, OSError):
        raise _refuse("callback creation time is not a date") from None
    event_id = event.get("id", hashlib.sha256(body).hexdigest())
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 200:
        raise _refuse("callback id is malformed")
    tag = data.get("tag")
    if tag is not None and not isinstance(tag, str):
        raise _refuse("callback tag is malformed")
    kind = f"{obj}.{name}"
    return WebhookEvent(provider=provider, event_id=event_id, request_id=document_id, kind=kind,
                        external_id=tag or None, occurred_at=occurred_at,
                        state_hint=_HINTS.get(kind), stale=abs(now - created) > replay_window)
