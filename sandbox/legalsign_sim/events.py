"""Realtime webhook bodies of the simulated Legalesign (camelCase, unlike the REST resources).

Shape per the Power Automate connector spec: `{id, event, object, version, created, data}`. The
exact `event` strings, `id` format and the key behind `X-Hmac-Sha256` are not public; the sandbox
sends the split form (`object: "document"`, `event: "finalPdfCreated"`), `evt-<uuid>` ids and an
HMAC-SHA256 hex digest of the raw body keyed with the API secret (our choices).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

from sandbox.legalsign_sim.model import DOCUMENT_STATUS_TEXT, SIGNER_STATUS_TEXT, Document, Signer


def _recipient(signer: Signer) -> dict:
    return {"uuid": signer.uuid, "email": signer.email, "firstname": signer.firstname,
            "lastname": signer.lastname, "order": signer.order, "status": signer.status,
            "statusText": SIGNER_STATUS_TEXT.get(signer.status, ""), "roleText": "Signer",
            "resourceUri": signer.resource_uri, "rejectReason": signer.reject_reason}


def event_body(document: Document, obj: str, event: str, signer: Signer | None = None) -> dict:
    common = {"tag": document.tag, "tag1": document.tag1, "tag2": document.tag2, "group": document.group,
              "groupResourceUri": f"/api/v1/group/{document.group}/"}
    if obj == "document":
        data = {**common, "uuid": document.uuid, "name": document.name, "status": document.status,
                "statusText": DOCUMENT_STATUS_TEXT.get(document.status, ""),
                "resourceUri": document.resource_uri, "recipients": [_recipient(s) for s in document.signers]}
    else:
        assert signer is not None
        data = {**common, **_recipient(signer), "document": document.uuid, "documentName": document.name,
                "documentResourceUri": document.resource_uri, "emailBounce": 0, "emailBounceMessage": ""}
    return {"id": f"evt-{uuid.uuid4()}", "version": "1", "object": obj, "event": event,
            "created": int(time.time()), "data": data}


def event_headers(body: dict, api_secret: str) -> dict[str, str]:
    # CallbackSender posts with requests' json=, which serialises with these same default separators.
    raw = json.dumps(body).encode()
    return {"X-Hmac-Sha256": hmac.new(api_secret.encode(), raw, hashlib.sha256).hexdigest(),
            "X-Signed-Sha256": "sandbox-unsigned"}


def hook_wants(hook: dict, document: Document, obj: str, event: str) -> bool:
    """Whether a registered realtime hook receives this event (event filter and group filter)."""
    if hook["notify"] != "realtime":
        return False
    group = str(hook.get("group") or "")
    if group and group not in (document.group, f"/api/v1/group/{document.group}/"):
        return False
    return hook["eventFilter"] in ("", f"{obj}.*", f"{obj}.{event}")
