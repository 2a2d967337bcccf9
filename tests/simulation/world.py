"""The world outside the daemon: the Salesforce org with the scenario's opportunities, the signing provider with
its signers, and the provider's webhook sender; each action of the scenario scheduled on the timeline.

Invariant: nothing here reaches into the daemon. The world changes the org and the provider, and calls the
daemon only the way the real world does: through the webhook endpoint it is given (`webhook`), and by being
polled. `on_org_change` only tells the harness that a poll now has something to find.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from connector.ports.crm import Contact, ContactRole, FileRef, Opportunity
from connector.ports.provider import SigningState
from connector.store import Store
from tests.simulation.callbacks import CallbackSender
from tests.simulation.clock import START, Timeline
from tests.simulation.injector import Injector
from tests.simulation.scenario import CANCEL_STAGE, TRIGGER_STAGE, OpportunityPlan, Scenario
from tests.simulation.sim_crm import SimCRM
from tests.simulation.sim_provider import ProviderEvent, SignerScript, SimProvider
from tests.simulation.witness import Witness

_SIGNERS = (
    ContactRole(Contact("003000000000001AAA", "Dana", "Signer", "dana@example.com"), "Decision Maker", True),
    ContactRole(Contact("003000000000002AAA", "Eli", "Buyer", "eli@example.com"), "Economic Buyer"),
)


class OutsideWorld:
    def __init__(self, *, scenario: Scenario, clock: Callable[[], datetime], timeline: Timeline,
                 rng: random.Random, injector: Injector, witness: Witness, store: Store, document: bytes,
                 note: Callable[[str], None], webhook: Callable[[ProviderEvent], bool],
                 on_org_change: Callable[[], None]):
        self.scenario = scenario
        self.clock = clock
        self.timeline = timeline
        self.store = store  # read only: which job (so which opportunity) a request belongs to
        self.document = document
        self.note = note
        self.on_org_change = on_org_change
        self.plans = {plan.opportunity_id: plan for plan in scenario.opportunities}
        self.provider = SimProvider(clock=clock, timeline=timeline, witness=witness, script_for=self._script_for,
                                    emit=self._emit)
        self.crm = SimCRM(clock=clock, witness=witness, provider_states=self._provider_states)
        self.callbacks = CallbackSender(clock=clock, timeline=timeline, injector=injector, rng=rng, deliver=webhook)

    def schedule_scenario(self) -> None:
        for plan in self.scenario.opportunities:
            self.timeline.schedule(START + plan.enters_at, f"{plan.opportunity_id} enters {TRIGGER_STAGE}",
                                   lambda p=plan: self._enter_stage(p))
            if plan.cancel_at is not None:
                self.timeline.schedule(START + plan.cancel_at, f"{plan.opportunity_id} moves to {CANCEL_STAGE}",
                                       lambda p=plan: self._move_to_cancel_stage(p))

    def _enter_stage(self, plan: OpportunityPlan) -> None:
        suffix = plan.opportunity_id[3:]
        version = "068" + suffix
        self.crm.file_contents[version] = self.document
        now = self.clock()
        self.crm.opportunities[plan.opportunity_id] = Opportunity(
            id=plan.opportunity_id, name=f"Deal {plan.opportunity_id[-4:]}", stage=TRIGGER_STAGE,
            system_modstamp=now, stage_changed_at=now, account_name="Acme", owner_name="Rita Rep",
            contact_roles=_SIGNERS, files=(FileRef("069" + suffix, version, "Quote Q-1", "pdf", len(self.document)),),
        )
        self.on_org_change()

    def _move_to_cancel_stage(self, plan: OpportunityPlan) -> None:
        opportunity = self.crm.opportunities[plan.opportunity_id]
        now = self.clock()
        self.crm.opportunities[plan.opportunity_id] = replace(opportunity, stage=CANCEL_STAGE, stage_changed_at=now,
                                                              system_modstamp=now)
        self.on_org_change()

    def _script_for(self, external_id: str) -> SignerScript:
        job = self.store.get_job(external_id)
        if job is None:  # cannot happen: a request names the job that sent it
            return SignerScript(SigningState.EXPIRED, (timedelta(hours=1),))
        return self.plans[job.opportunity_id].script

    def _provider_states(self, opportunity_id: str) -> list[SigningState]:
        ids = {job.id for job in self.store.list_jobs() if job.opportunity_id == opportunity_id}
        return self.provider.states_for(ids)

    def _emit(self, event: ProviderEvent) -> None:
        self.note(f"provider: {event.kind} for {event.request_id}")
        self.callbacks.emit(event)
