"""Opportunity snapshots to and from JSON, for the job record."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from connector.ports.crm import Contact, ContactRole, FileRef, Opportunity


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def opportunity_to_json(opportunity: Opportunity) -> dict:
    data = asdict(opportunity)
    data["system_modstamp"] = opportunity.system_modstamp.isoformat()
    data["stage_changed_at"] = opportunity.stage_changed_at.isoformat() if opportunity.stage_changed_at else None
    return data


def opportunity_from_json(data: dict) -> Opportunity:
    return Opportunity(
        **{
            **data,
            "system_modstamp": _dt(data["system_modstamp"]),
            "stage_changed_at": _dt(data.get("stage_changed_at")),
            "contact_roles": tuple(
                ContactRole(contact=Contact(**r["contact"]), role=r["role"], is_primary=r["is_primary"])
                for r in data.get("contact_roles", ())
            ),
            "files": tuple(FileRef(**f) for f in data.get("files", ())),
        }
    )
