"""What a signer does on the signing page: view, pass the SMS step, sign in order, or decline."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.signrequest_sim.evidence import signed_pdf, signing_log
from sandbox.signrequest_sim.serialize import Serializer
from sandbox.signrequest_sim.state import AWAITING_SIGNERS, FINISHED, Document, Signer, Store

FINISHED_WORDS = {"si": "signed", "sd": "signed", "do": "signed", "de": "declined", "ca": "cancelled",
                  "xp": "expired"}


class ActionRefused(ValueError):
    """An action the real service would not allow in the document's current state."""


class SignerActions:
    """The signer's side of the simulator; the simulator provides the store, clock and event emission."""

    store: Store
    clock: Callable[[], float]
    serializer: Serializer

    def _emit(self, document: Document, event_type: str, signer: Signer | None = None) -> None:
        raise NotImplementedError

    def _finish(self, document: Document, status: str) -> None:
        raise NotImplementedError

    def run_due(self) -> None:
        raise NotImplementedError

    def _actionable(self, document_uuid: str, email: str) -> tuple[Document, Signer]:
        self.run_due()  # a document past its auto_expire_days takes no more actions
        document = self.store.documents.get(document_uuid)
        if document is None:
            raise ActionRefused(f"there is no document {document_uuid}")
        signer = document.signer(email)
        if signer is None or not signer.needs_to_sign:
            raise ActionRefused(f"{email} is not asked to sign {document.name}")
        if document.status in FINISHED:
            raise ActionRefused(f"the document is already {FINISHED_WORDS[document.status]}")
        if document.status not in AWAITING_SIGNERS:
            raise ActionRefused(f"the document has not been sent for signing (status {document.status})")
        if signer.signed:
            raise ActionRefused(f"{signer.email} has already signed")
        return document, signer

    def view(self, document_uuid: str, signer_email: str) -> None:
        with self.store.lock:
            document, signer = self._actionable(document_uuid, signer_email)
            self._mark_viewed(document, signer)

    def _mark_viewed(self, document: Document, signer: Signer) -> None:
        if not signer.viewed:
            signer.viewed = True
            document.status = "vi"
            document.log.append((self.clock(), f"Document viewed by {signer.email}"))
            self._emit(document, "signer_viewed", signer)

    def sign(self, document_uuid: str, signer_email: str, *, full_name: str | None = None) -> None:
        with self.store.lock:
            document, signer = self._actionable(document_uuid, signer_email)
            earlier = document.waiting_for(signer)
            if earlier:
                raise ActionRefused(f"{signer.email} must wait for {earlier.email} to sign first")
            if signer.verify_phone_number and not signer.sms_verified:
                raise ActionRefused(f"{signer.email} must enter the SMS code first")
            self._mark_viewed(document, signer)
            now = self.clock()
            signer.signed, signer.signed_on = True, now
            signer.signed_name = (full_name or "").strip() or signer.full_name or signer.email
            document.log.append((now, f"Signed by {signer.signed_name} <{signer.email}>"))
            for later in document.required():
                later.emailed = later.emailed or (document.has_turn(later) and not later.embedded)
            self._emit(document, "signer_signed", signer)
            if all(s.signed for s in document.required()):
                document.log.append((now, "Document signed by all parties"))
                document.signed_pdf = signed_pdf(document)
                document.signing_log = signing_log(document, document.signed_pdf)
                self._finish(document, "si")
                self._emit(document, "signed")

    def sms_code(self, document_uuid: str, signer_email: str) -> str:
        """The code the sandbox would have texted to the signer's verify_phone_number."""
        with self.store.lock:
            return self._actionable(document_uuid, signer_email)[1].sms_code

    def enter_sms_code(self, document_uuid: str, signer_email: str, code: str) -> bool:
        with self.store.lock:
            document, signer = self._actionable(document_uuid, signer_email)
            signer.sms_verified = signer.sms_verified or code.strip() == signer.sms_code
            outcome = "passed" if signer.sms_verified else "failed"
            document.log.append((self.clock(), f"SMS verification {outcome} for {signer.email}"))
            return signer.sms_verified

    def decline(self, document_uuid: str, signer_email: str, reason: str) -> None:
        with self.store.lock:
            document, signer = self._actionable(document_uuid, signer_email)
            earlier = document.waiting_for(signer)
            if earlier:
                raise ActionRefused(f"{signer.email} has no access before {earlier.email} signed")
            self._mark_viewed(document, signer)
            now = self.clock()
            # Whether SignRequest exposes a decline reason is unconfirmed: the sandbox puts it in the
            # signer's free-text `message`.
            signer.declined, signer.declined_on, signer.message = True, now, reason.strip() or None
            document.log.append((now, f"Declined by {signer.email}: {reason.strip()}"))
            self._finish(document, "de")
            self._emit(document, "declined", signer)

    def signing_url(self, document_uuid: str, signer_email: str) -> str:
        with self.store.lock:
            document = self.store.documents.get(document_uuid)
            signer = document.signer(signer_email) if document else None
            if signer is None:
                raise ActionRefused(f"{signer_email} is not a signer of document {document_uuid}")
            return self.serializer.signing_page(signer)
