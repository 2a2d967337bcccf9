"""What simulated signers do: SMS authentication, viewing, signing in order, declining with a reason."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sandbox.onespan_sim.model import CONSENT_ID, Package, invalid, iso


class ActionRefused(ValueError):
    """A signer action the ceremony would not allow (not their turn, no SMS code yet, already done)."""


class SignerActions:
    """Mixed into the simulator, which provides the state, the clock and event emission."""

    lock: threading.RLock
    packages: dict[str, Package]
    public_url: str
    outbox: list[dict]
    get: Callable[[str], Package]
    now: Callable[[], datetime]
    _emit: Callable[..., None]
    _complete: Callable[[Package, str], None]
    _invite_next: Callable[[Package], None]

    @staticmethod
    def refused(reason: str) -> ActionRefused:
        return ActionRefused(reason)

    def _signer_role(self, package_id: str, email: str, *, must_be_open: bool = True) -> tuple[Package, dict]:
        package = self.packages.get(package_id)
        if package is None:
            raise ActionRefused(f"no package {package_id}")
        package = self.get(package_id)  # applies a due expiry first
        role = package.role_for_email(email)
        if role is None:
            raise ActionRefused(f"{email} is not a signer of this package")
        if must_be_open and not package.open_for_signing:
            state = "trashed" if package.trashed else package.status
            raise ActionRefused(f"the package is {state}; nothing to sign")
        return package, role

    def _check_turn(self, package: Package, role: dict) -> None:
        earlier = package.waiting_for(role)
        if earlier:
            raise ActionRefused(f"{role['signers'][0]['email']} must wait for "
                                f"{earlier['signers'][0]['email']} to sign first")

    def signing_url(self, package_id: str, signer_email: str) -> str:
        with self.lock:
            package, role = self._signer_role(package_id, signer_email, must_be_open=False)
            key = next(k for k, r in package.signing_keys.items() if r == role["id"])
            return f"{self.public_url}/sandbox/sign/{key}"

    def sms_code(self, package_id: str, signer_email: str) -> str:
        """The one-time code the sandbox "would have sent" by SMS."""
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            if role["id"] not in package.sms_codes:
                raise ActionRefused(f"{signer_email} does not authenticate by SMS")
            return package.sms_codes[role["id"]]

    def enter_sms_code(self, package_id: str, signer_email: str, code: str) -> bool:
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            if role["id"] not in package.sms_codes:
                raise ActionRefused(f"{signer_email} does not authenticate by SMS")
            if package.sms_codes[role["id"]] == code.strip():
                package.sms_verified.add(role["id"])
                package.audit.append((self.now(), f"SMS authentication passed for {signer_email}"))
                return True
            package.audit.append((self.now(), f"SMS authentication failed for {signer_email}"))
            return False

    def needs_sms(self, package: Package, role: dict) -> bool:
        return role["id"] in package.sms_codes and role["id"] not in package.sms_verified

    def _accept_consent(self, package: Package, role: dict) -> None:
        consent = package.consent_approval(role["id"])
        if consent is not None and not consent.get("accepted"):
            consent["accepted"] = consent["signed"] = iso(self.now())
            self._emit(package, "DOCUMENT_SIGNED", role["signers"][0]["id"], document_id=CONSENT_ID)

    def view(self, package_id: str, signer_email: str) -> None:
        """The signer opens the ceremony: accepts the consent document and views each document."""
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            self._check_turn(package, role)
            if self.needs_sms(package, role):
                raise ActionRefused(f"{signer_email} must enter the SMS code first")
            self._accept_consent(package, role)
            package.audit.append((self.now(), f"Viewed by {signer_email}"))
            for document in package.documents():
                self._emit(package, "DOCUMENT_VIEWED", role["signers"][0]["id"], document_id=document["id"])

    def sign(self, package_id: str, signer_email: str) -> None:
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            if package.role_signed(role["id"]):
                raise ActionRefused(f"{signer_email} has already signed")
            if self.needs_sms(package, role):
                raise ActionRefused(f"{signer_email} must enter the SMS code first")
            self._check_turn(package, role)
            signer_id = role["signers"][0]["id"]
            self._accept_consent(package, role)
            now = iso(self.now())
            for document in package.documents():
                mine = [a for a in document.get("approvals", []) if a["role"] == role["id"]]
                for approval in mine:
                    approval["accepted"], approval["signed"] = approval.get("accepted") or now, now
                if mine:
                    self._emit(package, "DOCUMENT_SIGNED", signer_id, document_id=document["id"])
            package.audit.append((self.now(), f"Signed by {signer_email}"))
            self._emit(package, "SIGNER_COMPLETE", signer_id)
            if not package.all_signed():
                self._invite_next(package)
            elif package.payload.get("autocomplete", True):
                self._complete(package, signer_id)
            else:
                self._emit(package, "PACKAGE_READY_FOR_COMPLETE", signer_id)

    def decline(self, package_id: str, signer_email: str, reason: str) -> None:
        """The signer declines in the ceremony, giving a reason (kept in the package's messages[])."""
        with self.lock:
            package, role = self._signer_role(package_id, signer_email)
            if not reason.strip():
                raise ActionRefused("a reason is required to decline")
            if package.role_signed(role["id"]):
                raise ActionRefused(f"{signer_email} has already signed")
            self._check_turn(package, role)
            self._record_decline(package, role, "DECLINED", reason.strip())

    def _record_decline(self, package: Package, role: dict, status: str, reason: str) -> None:
        signer, now = role["signers"][0], self.now()
        sender = package.payload["sender"]
        package.payload["messages"].append({
            "content": reason, "status": "NEW", "created": iso(now),
            "from": {k: signer[k] for k in ("id", "email", "firstName", "lastName")},
            "to": [{k: sender[k] for k in ("email", "firstName", "lastName")}],
            "documents": []})
        package.payload["status"] = status
        package.payload["updated"] = iso(now)
        verb = "Declined" if status == "DECLINED" else "Opted out"
        package.audit.append((now, f"{verb} by {signer['email']}: {reason}"))
        event = "PACKAGE_DECLINE" if status == "DECLINED" else "PACKAGE_OPT_OUT"
        self._emit(package, event, signer["id"], message=reason)

    def _decline_for_signer(self, package: Package, status: str, messages: object) -> None:
        """PUT {"status": "DECLINED"|"OPTED_OUT", "messages": [{"from": {"id": role}, "content": reason}]}."""
        first = messages[0] if isinstance(messages, list) and messages else None
        message = first if isinstance(first, dict) else {}
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            key = "error.validation.optOut.invalidComment" if status == "OPTED_OUT" else \
                "error.validation.decline.invalidComment"
            raise invalid("Invalid comment provided. Please provide a valid comment.", key)
        sender_id = (message.get("from") or {}).get("id")
        role = package.role(str(sender_id)) if sender_id else None
        if role is None:
            raise invalid("messages[0].from.id must name a signer role.", "error.validation.decline.role")
        self._record_decline(package, role, status, content.strip())

    def page_target(self, key: str) -> tuple[Package, dict] | None:
        """The package and role behind a signing-page key."""
        with self.lock:
            for package in self.packages.values():
                if key in package.signing_keys:
                    return package, package.role(package.signing_keys[key])
            return None
