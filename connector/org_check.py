"""`check-mappings --against-org`: do the mappings fit the connected org?

Stage names must be active values of Opportunity.StageName, signer roles active values of
OpportunityContactRole.Role, the write-back fields must exist on Opportunity and be updateable, and
every field a filter or merge field reads must exist (or the poll query would fail for every rule).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from config.settings import WritebackFields
from connector.org_fields import referenced_field_problems
from mappings.loader import MappingProblem, locate
from mappings.models import MappingFile


def _picklist(describe: dict, field: str) -> set[str]:
    spec = next((f for f in describe.get("fields", []) if f["name"] == field), None)
    return {v["value"] for v in (spec or {}).get("picklistValues", []) if v.get("active")}


def check_against_org(mapping: MappingFile, path: Path, describe: Callable[[str], dict],
                      fields: WritebackFields) -> list[MappingProblem]:
    text = path.read_text(encoding="utf-8")
    opportunity, contact_role = describe("Opportunity"), describe("OpportunityContactRole")
    stages, roles = _picklist(opportunity, "StageName"), _picklist(contact_role, "Role")
    problems = []

    def problem(loc: tuple, message: str, at_key: bool = False) -> None:
        line, column = locate(text, loc, at_key=at_key)
        problems.append(MappingProblem(str(path), line, column, message))

    for index, rule in enumerate(mapping.rules):
        for key, names in (("trigger", rule.trigger.stages), ("cancel_on", rule.cancel_on)):
            for position, stage in enumerate(names):
                if stage not in stages:
                    loc = ("rules", index, "trigger", "stages", position) if key == "trigger" else (
                        "rules", index, "cancel_on", position)
                    problem(loc, f"rule {rule.id}: stage {stage!r} is not an active Opportunity stage in this org "
                                 f"(stages: {', '.join(sorted(stages))})")
        for position, signer in enumerate(rule.signers):
            if signer.role not in roles:
                problem(("rules", index, "signers", position, "role"),
                        f"rule {rule.id}: contact role {signer.role!r} is not an active OpportunityContactRole.Role "
                        f"value (roles: {', '.join(sorted(roles))})")
    for found in referenced_field_problems(mapping, opportunity, describe):
        problem(found.loc, f"rule {mapping.rules[found.loc[1]].id}: {found.message}", found.at_key)
    by_name = {f["name"]: f for f in opportunity.get("fields", [])}
    for setting, name in fields.model_dump().items():
        if not isinstance(name, str):
            continue
        field = by_name.get(name)
        if field is None:
            problems.append(MappingProblem(str(path), 1, 1, f"write-back field {name} (CONNECTOR_FIELD_"
                                           f"{setting.upper()}) does not exist on Opportunity; create it"))
        elif not field.get("updateable"):
            problems.append(MappingProblem(str(path), 1, 1, f"write-back field {name} (CONNECTOR_FIELD_"
                                           f"{setting.upper()}) is not updateable by the integration user"))
    return problems
