"""The simulated signing provider: FakeProvider's requests, plus signers who act on a schedule and a callback for
every change, as a real provider's webhooks would send.

Invariants it watches as they happen: signed documents and evidence are only handed out for a request that is
completed (the engine must have confirmed the state before acting on it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.ports.provider import (
    ProviderCapabilities,
    RequestRef,
    RequestStatus,
    SignedFile,
    SigningRequestSpec,
    SigningState,
)
from tests.fakes import FakeProvider
from tests.simulation.clock import Timeline
from tests.simulation.witness import Witness

CAPABILITIES = ProviderCapabilities(multiple_documents=True, languages=None, embedded_signing=True,
                                    mixed_delivery=True)


@dataclass(frozen=True)
class SignerScript:
    """What the signers of one opportunity's request do: each signs `delays[i]` after the one before, unless the
    outcome is declined (the first declines after delays[0]) or expired (the request lapses after delays[0])."""

    outcome: SigningState
    delays: tuple[timedelta, ...]


@dataclass(frozen=True)
class ProviderEvent:
    """One callback as the provider sends it; `final` events wake the job, the others are informational."""

    event_id: str
    request_id: str
    external_id: str
    kind: str
    final: bool


class SimProvider(FakeProvider):
    def __init__(self, *, clock: Callable[[], datetime], timeline: Timeline, witness: Witness,
                 script_for: Callable[[str], SignerScript], emit: Callable[[ProviderEvent], None]):
        super().__init__(CAPABILITIES, name="signrequest")
        self.clock = clock
        self.timeline = timeline
        self.witness = witness
        self.script_for = script_for
        self.emit = emit
        self.reminder_times: list[tuple[str, datetime]] = []
        self._events: dict[str, int] = {}

    def create(self, spec: SigningRequestSpec) -> RequestRef:
        ref = super().create(spec)
        script = self.script_for(spec.external_id)
        at = self.clock()
        if script.outcome == SigningState.COMPLETED:
            for signer, delay in enumerate(script.delays):
                at += delay
                self.timeline.schedule(at, f"{ref.request_id} signer {signer + 1} signs",
                                       lambda r=ref.request_id, s=signer: self._sign(r, s))
        else:
            self.timeline.schedule(at + script.delays[0], f"{ref.request_id} {script.outcome}",
                                   lambda r=ref.request_id, o=script.outcome: self._end(r, o))
        return ref

    def _sign(self, request_id: str, signer: int) -> None:
        request = self.requests[request_id]
        if request.state.is_final:
            return
        self.sign(request_id, request.spec.signers[signer].email)
        done = request.state == SigningState.COMPLETED
        self._notify(request_id, "completed" if done else f"signer_{signer + 1}_signed", final=done)

    def _end(self, request_id: str, outcome: SigningState) -> None:
        request = self.requests[request_id]
        if request.state.is_final:
            return
        if outcome == SigningState.DECLINED:
            self.decline(request_id, request.spec.signers[0].email, "Terms")
        else:
            self.expire(request_id)
        self._notify(request_id, outcome.value, final=True)

    def _notify(self, request_id: str, kind: str, *, final: bool) -> None:
        number = self._events[request_id] = self._events.get(request_id, 0) + 1
        external_id = self.requests[request_id].spec.external_id
        self.emit(ProviderEvent(f"{request_id}:{number}", request_id, external_id, kind, final))

    def cancel(self, ref: RequestRef) -> None:
        """Cancelling an ended request changes nothing (a real provider would not cancel a signed document)."""
        if not self.requests[ref.request_id].state.is_final:
            super().cancel(ref)
            self._notify(ref.request_id, "cancelled", final=True)

    def get_status(self, ref: RequestRef) -> RequestStatus:
        return self.requests[ref.request_id].status

    def download_signed(self, ref: RequestRef, max_bytes: int | None = None) -> list[SignedFile]:
        self._check_completed(ref, "signed documents")
        return super().download_signed(ref, max_bytes)

    def download_evidence(self, ref: RequestRef, max_bytes: int | None = None) -> SignedFile:
        self._check_completed(ref, "evidence")
        return super().download_evidence(ref, max_bytes)

    def send_reminder(self, ref: RequestRef) -> None:
        super().send_reminder(ref)
        self.reminder_times.append((ref.request_id, self.clock()))

    def _check_completed(self, ref: RequestRef, what: str) -> None:
        state = self.requests[ref.request_id].status.state
        self.witness.check(state == SigningState.COMPLETED,
                           f"{what} of {ref.request_id} downloaded while the request was {state}", self.clock())

    def states_for(self, external_ids: set[str]) -> list[SigningState]:
        return [r.status.state for r in self.requests.values() if r.spec.external_id in external_ids]
