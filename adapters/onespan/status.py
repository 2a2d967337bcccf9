"""A OneSpan Package JSON read as our RequestStatus: package status, per-signer approvals, decline reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from connector.ports.provider import RequestStatus, SignerStatus, SigningState

CONSENT = "default-consent"


def _signer_roles(package: dict) -> list[dict]:
    roles = [r for r in package.get("roles") or []
             if isinstance(r, dict) and r.get("type", "SIGNER") == "SIGNER" and r.get("signers")]
    # sorted() is stable: roles with equal indexes keep the order they were sent in
    return sorted(roles, key=lambda r: r.get("index") or 0)


def _approvals(package: dict, role_id: str, *, consent: bool) -> list[dict]:
    return [a for d in package.get("documents") or [] if (d.get("id") == CONSENT) == consent
            for a in d.get("approvals") or [] if a.get("role") == role_id]


def _moments(values: Iterable[object]) -> list[datetime]:
    """The approvals' `signed` date-times that parse (the last of a role's is when it finished signing)."""
    found = []
    for value in values:
        if isinstance(value, str) and value:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            found.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return found


def _role_signed(package: dict, role: dict) -> bool:
    mine = _approvals(package, role["id"], consent=False)
    return bool(mine) and all(a.get("signed") for a in mine)


def _decline(package: dict, roles: list[dict]) -> tuple[str | None, str | None]:
    """(reason, signer e-mail): the newest message a signer left, as OneSpan's own sample reads messages[]."""
    role_email: dict[str, str] = {}
    for role in roles:
        signer = role["signers"][0]
        for key in (role.get("id"), signer.get("id"), str(signer.get("email") or "").lower()):
            if key and signer.get("email"):
                role_email[key] = signer["email"]
    messages = [m for m in package.get("messages") or [] if isinstance(m, dict)]
    for message in reversed(messages):
        sender = message.get("from") or {}
        email = role_email.get(str(sender.get("email") or "").lower()) \
            or role_email.get(str(sender.get("id")))
        if email:
            return message.get("content"), email
    if messages:
        return messages[0].get("content"), None
    return None, None


def _state(package: dict, signers: list[SignerStatus]) -> SigningState:
    status = package.get("status")
    # An outcome stands even if the sender later trashed the package to tidy up.
    if status == "COMPLETED" or (status == "ARCHIVED" and package.get("completed")):
        return SigningState.COMPLETED
    if status in ("DECLINED", "OPTED_OUT"):
        return SigningState.DECLINED
    if status == "EXPIRED":
        return SigningState.EXPIRED
    if package.get("trashed") or status == "ARCHIVED":
        return SigningState.CANCELLED  # shelved by the sender before completion: nobody can sign it now
    # SENT, a DRAFT pulled back for editing, or a status this adapter does not know yet.
    if any(s.signed for s in signers):
        return SigningState.PARTIALLY_SIGNED
    if any(s.viewed for s in signers):
        return SigningState.VIEWED
    return SigningState.SENT


def request_status(package: dict) -> RequestStatus:
    roles = _signer_roles(package)
    signers = []
    for role in roles:
        signed = _role_signed(package, role)
        touched = [*_approvals(package, role["id"], consent=False),
                   *_approvals(package, role["id"], consent=True)]
        viewed = signed or any(a.get("accepted") or a.get("signed") for a in touched)
        signed_at = max(_moments(a.get("signed") for a in _approvals(package, role["id"], consent=False)),
                        default=None) if signed else None
        signers.append(SignerStatus(email=role["signers"][0].get("email", ""), signed=signed, viewed=viewed,
                                    signed_at=signed_at))
    state = _state(package, signers)
    reason, declined_by = _decline(package, roles) if state == SigningState.DECLINED else (None, None)
    signers = [replace(s, declined=s.email == declined_by, decline_reason=reason if s.email == declined_by else None)
               for s in signers]
    status = str(package.get("status") or "")
    return RequestStatus(state=state, signers=tuple(signers), decline_reason=reason, declined_by=declined_by,
                         external_id=(package.get("data") or {}).get("externalId"),
                         provider_status=f"{status} (trashed)" if package.get("trashed") else status)


def signers_due(package: dict) -> list[str]:
    """E-mails of the signers whose turn it is: unsigned, with the lowest signing index among the unsigned."""
    pending = [r for r in _signer_roles(package) if not _role_signed(package, r)]
    if not pending:
        return []
    first = pending[0].get("index") or 0
    return [r["signers"][0]["email"] for r in pending if (r.get("index") or 0) == first]


def role_of(package: dict, email: str) -> str | None:
    """The id of the role whose signer has `email` (signing URLs are per role, not per signer)."""
    role = next((r for r in _signer_roles(package) if str(r["signers"][0].get("email") or "").lower()
                 == email.lower()), None)
    return str(role["id"]) if role and role.get("id") else None
