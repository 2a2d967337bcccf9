"""`check-mappings --against-org`: do the mappings fit the connected org?

Stage names (triggers, cancel_on and move_to_stage_on) must be active values of Opportunity.StageName,
signer roles active values of OpportunityContactRole.Role, the write-back fields (settings and each
rule's own writeback: names) must exist on Opportunity and be updateable, and every field a filter or
merge field reads must exist (or the poll query would fail for every rule).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from config.settings import WritebackFields
from connector.admin.org_fields import referenced_field_problems
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
    problems.extend(_rule_writebacks(mapping, text, path, stages, by_name))
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


def _rule_writebacks(mapping: MappingFile, text: str, path: Path, stages: set[str],
                     by_name: dict[str, dict]) -> list[MappingProblem]:
    """Each rule's own writeback field names and move_to_stage_on stages, located in the file."""
    problems = []

    def problem(loc: tuple, message: str) -> None:
        line, column = locate(text, loc)
        problems.append(MappingProblem(str(path), line, column, message))

    for index, rule in enumerate(mapping.rules):
        given = rule.writeback.model_dump()  # only the keys the rule sets; null = not written
        for key, name in given.items():
            if name is None:
                continue
            field = by_name.get(name)
            if field is None:
                problem(("rules", index, "writeback", key), f"rule {rule.id}: writeback.{key} field {name} does "
                        "not exist on Opportunity; create it or correct the API name")
            elif not field.get("updateable"):
                problem(("rules", index, "writeback", key), f"rule {rule.id}: writeback.{key} field {name} is "
                        "not updateable by the integration user; grant edit access or name another field")
        moves = rule.move_to_stage_on.targets()
        for outcome, stage in moves.items():
            if stage not in stages:
                problem(("rules", index, "move_to_stage_on", outcome),
                        f"rule {rule.id}: move_to_stage_on.{outcome} stage {stage!r} is not an active Opportunity "
                        f"stage in this org (stages: {', '.join(sorted(stages))})")
        if moves and not by_name.get("StageName", {}).get("updateable"):
            problem(("rules", index, "move_to_stage_on"), f"rule {rule.id}: move_to_stage_on needs "
                    "Opportunity.StageName to be updateable by the integration user")
    return problems
