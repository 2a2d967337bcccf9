"""The simulated Salesforce org: FakeCRM's opportunities, fields, Files and Tasks, plus a log of every write.

Invariant it watches as it happens: a signing status is only written once the provider really is in that state
(never "Completed" for a request that is not completed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from connector.ports.crm import Writeback, WritebackResult
from connector.ports.provider import SigningState
from connector.writeback.outcomes import Status
from tests.fakes import FakeCRM
from tests.simulation.witness import Witness

STATUS_FIELD = "Signing_Status__c"
# The provider state a status written to the opportunity claims; None: any request of the opportunity will do.
_CLAIMED = {Status.COMPLETED: {SigningState.COMPLETED}, Status.DECLINED: {SigningState.DECLINED},
            Status.EXPIRED: {SigningState.EXPIRED}, Status.SENT: None}


@dataclass(frozen=True)
class Write:
    at: datetime
    writeback: Writeback


class SimCRM(FakeCRM):
    def __init__(self, *, clock: Callable[[], datetime], witness: Witness,
                 provider_states: Callable[[str], list[SigningState]]):
        super().__init__(clock=clock)
        self.witness = witness
        self.provider_states = provider_states  # opportunity id -> the states of its jobs' requests, now
        self.writes: list[Write] = []
        self.relogins = 0

    def _write(self, writeback: Writeback) -> WritebackResult:
        status = writeback.fields.get(STATUS_FIELD)
        if status in _CLAIMED:
            states = self.provider_states(writeback.opportunity_id)
            wanted = _CLAIMED[status]
            ok = bool(states) and (wanted is None or any(s in wanted for s in states))
            self.witness.check(ok, f"{status!r} written to {writeback.opportunity_id} while its requests were "
                                   f"{[str(s) for s in states]}", self.clock())
        self.writes.append(Write(self.clock(), writeback))
        return super()._write(writeback)
