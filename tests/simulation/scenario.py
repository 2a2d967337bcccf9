"""What happens in the outside world during one run: which opportunities enter the trigger stage and when, what
their signers do, whether a rep moves the deal to a cancel stage; and the rule and settings the daemon runs with.

Invariant: a scenario is a pure function of its seed (or its name), so a run can be replayed from the seed alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from connector.ports.provider import SigningState
from tests.simulation.sim_provider import SignerScript

TRIGGER_STAGE = "Contract Sent"
CANCEL_STAGE = "Closed Lost"
# A scenario feature: the rep moves the deal to the cancel stage around the time its request ends (from 10 minutes
# before to 30 after). Without it, a cancel comes at least EARLY_CANCEL_MARGIN before the request could end: more
# than the faults of one run can hold the cancel up (a few crashes and stalls, each a minute or two).
LATE_CANCEL = "late_cancel"
EARLY_CANCEL_MARGIN = timedelta(minutes=30)


@dataclass(frozen=True)
class OpportunityPlan:
    opportunity_id: str
    enters_at: timedelta  # after the start of the run
    script: SignerScript  # counted from the moment its request is created
    cancel_at: timedelta | None = None  # when the rep moves it to CANCEL_STAGE, after the start of the run


@dataclass(frozen=True)
class Scenario:
    name: str
    opportunities: tuple[OpportunityPlan, ...]
    embedded_signer: bool = False  # the first signer signs in the connector's page: signing_url is asked for
    reminders: bool = False  # the connector sends one reminder a day, twice at most
    status_check_minutes: float = 30.0

    @property
    def cancel_stage(self) -> bool:
        return any(plan.cancel_at is not None for plan in self.opportunities)

    def rules_yaml(self) -> str:
        delivery = ", delivery: embedded" if self.embedded_signer else ""
        lines = [
            "version: 1",
            "rules:",
            "  - id: quote",
            f'    trigger: {{stages: ["{TRIGGER_STAGE}"]}}',
            "    provider: signrequest",
            '    documents: {title_pattern: "Quote*"}',
            f"    signers: [{{role: Decision Maker{delivery}}}, {{role: Economic Buyer}}]",
            '    subject: "Sign {{Opportunity.Name}}"',
        ]
        if self.reminders:
            lines.append("    reminders: {interval_days: 1, count: 2}")
        if self.cancel_stage:
            lines.append(f'    cancel_on: ["{CANCEL_STAGE}"]')
        return "\n".join(lines) + "\n"

    def last_event_offset(self) -> timedelta:
        """When the last thing the scenario itself makes happen is due at the latest (requests may be created
        late, so signers' times count from the latest a request could reasonably be sent: an hour in)."""
        ends = []
        for plan in self.opportunities:
            ends.append(plan.enters_at + timedelta(hours=1) + sum(plan.script.delays, timedelta()))
            if plan.cancel_at is not None:
                ends.append(plan.cancel_at)
        return max(ends)


def _opportunity_id(number: int) -> str:
    return f"006{number:012d}AAA"


def _script(rng: random.Random, *, days: bool) -> SignerScript:
    unit = 86_400 if days else 3_600
    roll = rng.random()
    if roll < 0.75:
        return SignerScript(SigningState.COMPLETED, tuple(timedelta(seconds=rng.uniform(0.02, 0.75) * unit)
                                                          for _ in range(2)))
    outcome = SigningState.DECLINED if roll < 0.9 else SigningState.EXPIRED
    return SignerScript(outcome, (timedelta(seconds=rng.uniform(0.02, 1.5) * unit),))


def _cancel_at(rng: random.Random, enters_at: timedelta, script: SignerScript,
               avoid: frozenset[str]) -> timedelta | None:
    wanted, late, where = rng.random() < 0.08, rng.random() < 0.5, rng.random()  # three draws, whatever is used
    if not wanted:
        return None
    ends = sum(script.delays, timedelta())  # after the request is sent, which is soon after the stage entry
    if late and LATE_CANCEL not in avoid:
        return enters_at + max(timedelta(minutes=1), ends + timedelta(minutes=-10 + 40 * where))
    room = ends - EARLY_CANCEL_MARGIN
    if room <= timedelta(minutes=1):
        return None
    return enters_at + timedelta(minutes=1) + (room - timedelta(minutes=1)) * where


def scenario_for_seed(seed: int, *, avoid: frozenset[str] = frozenset()) -> Scenario:
    """`avoid`: scenario features (LATE_CANCEL) to leave out."""
    rng = random.Random(f"scenario:{seed}")
    reminders = rng.random() < 0.1
    count = 1 if rng.random() < 0.6 else 2
    plans = []
    for number in range(1, count + 1):
        enters_at = timedelta(seconds=rng.uniform(0, 600))
        script = _script(rng, days=reminders)
        plans.append(OpportunityPlan(_opportunity_id(number), enters_at, script,
                                     _cancel_at(rng, enters_at, script, avoid)))
    return Scenario(name=f"seed {seed}", opportunities=tuple(plans), embedded_signer=rng.random() < 0.3,
                    reminders=reminders, status_check_minutes=480.0 if reminders else 30.0)


def _one(script: SignerScript, **options) -> Scenario:
    return Scenario(name="", opportunities=(OpportunityPlan(_opportunity_id(1), timedelta(seconds=5), script),),
                    **options)


def named_scenario(name: str) -> Scenario:
    """One signing each, for the exhaustive mode: every port the engine calls on that path is reached."""
    if name == "complete":  # embedded signer (signing_url), a reminder, then both sign
        script = SignerScript(SigningState.COMPLETED, (timedelta(hours=26), timedelta(hours=1)))
        scenario = _one(script, embedded_signer=True, reminders=True, status_check_minutes=480.0)
    elif name == "decline":
        scenario = _one(SignerScript(SigningState.DECLINED, (timedelta(hours=2),)))
    elif name == "cancel":  # the rep moves the deal to the cancel stage while the signers have not signed yet
        plan = OpportunityPlan(_opportunity_id(1), timedelta(seconds=5),
                               SignerScript(SigningState.COMPLETED, (timedelta(hours=3), timedelta(hours=1))),
                               cancel_at=timedelta(hours=1))
        scenario = Scenario(name="", opportunities=(plan,))
    elif name == "cancel_race":  # the rep moves the deal to the cancel stage 2 minutes after both signed
        plan = OpportunityPlan(_opportunity_id(1), timedelta(seconds=5),
                               SignerScript(SigningState.COMPLETED, (timedelta(hours=1), timedelta(hours=1))),
                               cancel_at=timedelta(hours=2, minutes=3))
        scenario = Scenario(name="", opportunities=(plan,))
    else:
        raise ValueError(f"unknown scenario {name!r}: one of {', '.join(NAMED)}")
    return Scenario(name=name, opportunities=scenario.opportunities, embedded_signer=scenario.embedded_signer,
                    reminders=scenario.reminders, status_check_minutes=scenario.status_check_minutes)


NAMED = ("complete", "decline", "cancel", "cancel_race")
