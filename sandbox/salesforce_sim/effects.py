"""What the platform itself does on a save: derived fields, one primary contact role, stage history."""

from __future__ import annotations

from sandbox.salesforce_sim.schema import CLOSED_STAGES, CLOSED_TASK_STATUSES, STAGES

HISTORY_TRIGGERS = {"StageName", "Amount", "CloseDate", "Probability"}


def derive(name: str, record: dict, changed: set[str], *, creating: bool) -> None:
    """Recompute `record`'s derived fields after the fields in `changed` were written."""
    if name in ("Contact", "User"):
        record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
    elif name == "Task":
        record["IsClosed"] = record.get("Status") in CLOSED_TASK_STATUSES
    elif name == "Opportunity" and "StageName" in changed:
        stage = record["StageName"]
        probability, category = STAGES[stage]
        record["IsClosed"] = stage in CLOSED_STAGES
        record["IsWon"] = CLOSED_STAGES.get(stage, False)
        record["ForecastCategoryName"] = category
        if "Probability" not in changed or record.get("Probability") is None:
            record["Probability"] = probability
        if not creating:  # a new opportunity has not changed stage yet
            record["LastStageChangeDate"] = record["SystemModstamp"]


def history_row(opportunity: dict, before: dict | None) -> dict:
    """The OpportunityHistory fields for a save of `opportunity` (previously `before`, None when new)."""
    amount, probability = opportunity.get("Amount"), opportunity.get("Probability")
    expected = amount * probability / 100 if amount is not None and probability is not None else None
    return {
        "OpportunityId": opportunity["Id"], "StageName": opportunity["StageName"], "Amount": amount,
        "ExpectedRevenue": expected, "CloseDate": opportunity.get("CloseDate"), "Probability": probability,
        "ForecastCategory": opportunity.get("ForecastCategoryName"),
        "PrevAmount": before.get("Amount") if before else None,
        "PrevCloseDate": before.get("CloseDate") if before else None,
    }


def needs_history(before: dict | None, after: dict) -> bool:
    return before is None or any(before.get(f) != after.get(f) for f in HISTORY_TRIGGERS)
