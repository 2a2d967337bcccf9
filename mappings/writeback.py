"""The `writeback:` and `move_to_stage_on:` blocks of a rule: what a signing writes to its opportunity.

Field names left out fall back to the `CONNECTOR_FIELD_*` settings, so a rule without a
`writeback:` block behaves exactly as before; `null` means "do not write this field". That
difference between "left out" and "null" has to survive the rule snapshot stored with each job,
which is why only the keys actually given are serialised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer

SALESFORCE_FIELD_NAME = r"^[A-Za-z][A-Za-z0-9_]{0,79}$"
WRITEBACK_KEYS = ("status", "request_id", "sent_at", "completed_at", "decline_reason", "signing_url", "last_error")


def _name(description: str) -> Any:
    return Field(None, pattern=SALESFORCE_FIELD_NAME, description=description)


def _no_null_defaults(schema: dict) -> None:
    # A left-out key means "the setting's name", not null: don't advertise null as the default.
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)


class RuleWriteback(BaseModel):
    """Opportunity field API names this rule writes; left out = the CONNECTOR_FIELD_* setting, null = don't write."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_no_null_defaults)

    status: str | None = _name("Sent, Completed, Declined, Expired, Cancelled or Error. "
                               "Default: CONNECTOR_FIELD_STATUS.")
    request_id: str | None = _name("The provider's request id. Default: CONNECTOR_FIELD_REQUEST_ID.")
    sent_at: str | None = _name("Date/time the request was sent. Default: CONNECTOR_FIELD_SENT_AT.")
    completed_at: str | None = _name("Date/time everyone had signed. Default: CONNECTOR_FIELD_COMPLETED_AT.")
    decline_reason: str | None = _name("Who declined and why. When no field is named (the default "
                                       "CONNECTOR_FIELD_DECLINE_REASON is empty) it goes to the last error field.")
    signing_url: str | None = _name("The signing link of the first signer with delivery: embedded, cleared when "
                                    "the request ends. Default: CONNECTOR_FIELD_SIGNING_URL.")
    last_error: str | None = _name("What went wrong and what to do. Default: CONNECTOR_FIELD_LAST_ERROR.")

    @model_serializer(mode="wrap")
    def _only_given_keys(self, handler) -> dict:
        return {key: value for key, value in handler(self).items() if key in self.model_fields_set}

    def resolve(self, defaults: Mapping[str, str | None]) -> dict[str, str | None]:
        """Field name per key: the rule's own where given (None = don't write), else the default."""
        return {key: getattr(self, key) if key in self.model_fields_set else defaults.get(key)
                for key in WRITEBACK_KEYS}


class StageMoves(BaseModel):
    """Opportunity stage (StageName API value) to move to when a request ends so; written with the status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    completed: str | None = Field(None, min_length=1, description="e.g. 'Closed Won'.")
    declined: str | None = Field(None, min_length=1, description="e.g. 'Needs Analysis'.")
    expired: str | None = Field(None, min_length=1)
    cancelled: str | None = Field(None, min_length=1, description="Only when cancelled at the provider; a "
                                  "cancel caused by a cancel_on stage keeps the stage the rep chose.")

    def targets(self) -> dict[str, str]:
        """Outcome -> stage, for the outcomes that move the opportunity."""
        return {outcome: stage for outcome, stage in self.model_dump().items() if stage}


def move_cycles(rules: list) -> list[list[str]]:
    """Rule-id cycles made by stage moves: rule A moves into rule B's trigger, B moves into A's...

    Each connector move is an ordinary stage entry, so another rule triggers on it (once: the job's
    entry key holds the time of entry). A loop of such moves would resend requests without end."""
    triggers = {rule.id: set(rule.trigger.stages) for rule in rules}
    edges = {rule.id: sorted({other for other, stages in triggers.items()
                              if other != rule.id and stages & set(rule.move_to_stage_on.targets().values())})
             for rule in rules}
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def walk(path: list[str]) -> None:
        for nxt in edges[path[-1]]:
            if nxt == path[0]:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    cycles.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:
                walk([*path, nxt])

    for rule_id in sorted(edges):
        walk([rule_id])
    return cycles
