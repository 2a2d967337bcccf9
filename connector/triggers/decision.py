"""The trigger decision: this opportunity, as seen now, starts these jobs and cancels those.

Pure: it reads the mappings, the opportunity and what the store knows of the rule's latest job, and
returns what to do. Every trigger source (the poller today, push sources next) calls it unchanged and
hands the result to `connector.triggers.intake`, so a stage entry makes one job whichever source sees
it first, or both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connector.ports.crm import Opportunity
from connector.store.jobs import LatestJob
from connector.triggers.filters import mismatch
from mappings.models import MappingFile, Rule


@dataclass(frozen=True)
class StartJob:
    rule: Rule
    opportunity: Opportunity
    entry_key: str


@dataclass(frozen=True)
class CancelJobs:
    """Cancel the rule's open job on the opportunity, if it has one."""

    rule: Rule
    opportunity: Opportunity
    reason: str


@dataclass(frozen=True)
class NotStarted:
    rule: Rule
    why: str
    notable: bool = False  # the rep moved the deal and nothing was sent: worth an INFO line, not DEBUG


@dataclass(frozen=True)
class TriggerDecision:
    starts: tuple[StartJob, ...] = ()
    cancels: tuple[CancelJobs, ...] = ()
    not_started: tuple[NotStarted, ...] = ()


def entry_key(rule: Rule, opportunity: Opportunity) -> str:
    """One stage entry of one opportunity for one rule: the store keeps it unique, so a second sighting of
    the same entry (a re-read, another source) never makes a second job."""
    entered = opportunity.stage_changed_at or opportunity.system_modstamp
    return f"{rule.id}:{opportunity.id}:{opportunity.stage}:{entered.isoformat()}"


def concerns(mapping: MappingFile, opportunity: Opportunity) -> bool:
    """Whether any rule starts or cancels on the opportunity's stage (the store need not be asked otherwise)."""
    return bool(mapping.rules_for_stage(opportunity.stage) or mapping.rules_cancelled_by(opportunity.stage))


def decide(mapping: MappingFile, opportunity: Opportunity, latest: Mapping[str, LatestJob], *,
           entered_earlier: bool = False) -> TriggerDecision:
    """`latest`: the newest job of each rule on this opportunity, by rule id. `entered_earlier`: the source
    saw the opportunity only because it was edited while in a stage it had entered before the source
    started watching (a poll's window); rules that fire on entry only, and cancels, then do nothing."""
    starts, not_started = [], []
    for rule in mapping.rules_for_stage(opportunity.stage):
        why, notable = _why_not_start(rule, opportunity, latest.get(rule.id), entered_earlier)
        if why:
            not_started.append(NotStarted(rule, why, notable))
        else:
            starts.append(StartJob(rule, opportunity, entry_key(rule, opportunity)))
    cancels = () if entered_earlier else tuple(
        CancelJobs(rule, opportunity, f"Cancelled because the opportunity moved to stage {opportunity.stage!r} "
                                      f"(rule {rule.id}, cancel_on).")
        for rule in mapping.rules_cancelled_by(opportunity.stage))
    return TriggerDecision(tuple(starts), cancels, tuple(not_started))


def _why_not_start(rule: Rule, opportunity: Opportunity, latest: LatestJob | None,
                   entered_earlier: bool) -> tuple[str, bool]:
    """Why the rule starts no job now ("" when it does), and whether that is notable."""
    if entered_earlier and rule.trigger.on_entry_only:
        return "it entered the stage before this source watched, and the rule fires on entry only", False
    reason = mismatch(rule.trigger.filter, opportunity)
    if reason:
        return reason, False
    if latest is None:
        return "", False
    if latest.entry_key == entry_key(rule, opportunity):
        return "this stage entry already has its job", False
    if not latest.state.is_terminal:
        return (f"it re-entered stage {opportunity.stage!r} while job {latest.id} is still open; not sending "
                "again"), True
    if latest.outcome not in rule.retrigger_after:
        return (f"it re-entered stage {opportunity.stage!r}; rule {rule.id}'s last request ended "
                f"{latest.outcome or latest.state.value}, which its retrigger_after does not list; not sending "
                "again"), True
    return "", False
