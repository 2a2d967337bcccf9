"""The mapping format: which stage starts which signing, with what documents and signers.

Every field has a documented default; unknown keys are refused so that a typo never passes
silently. Issue-sized growth (filters, templates, deadlines...) adds fields here.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from babel.numbers import is_currency
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mappings.control_chars import describe, first_control
from mappings.merge_fields import check_text
from mappings.writeback import RuleWriteback, StageMoves, move_cycles


def _known_provider(name: str, info: ValidationInfo) -> str:
    """Which providers exist is the runtime's knowledge (its registry); the loader passes their names in the
    validation context. Without them, any well-formed name passes here and the daemon refuses it at start."""
    known = (info.context or {}).get("providers")
    if known is not None and name not in known:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(sorted(known))}")
    return name


ProviderName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*$"), AfterValidator(_known_provider)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- record filters (trigger.filter) -------------------------------------------------------------

_FIELD_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")


def _field_path(name: str) -> str:
    if not _FIELD_PATH.match(name):
        raise ValueError(f"{name!r} is not a field API name (e.g. Type, Region__c or Account.Industry)")
    return name


FieldPath = Annotated[str, AfterValidator(_field_path)]


class AmountRange(_Strict):
    min: float | None = Field(None, description="Lowest Opportunity.Amount that fires the rule (inclusive).")
    max: float | None = Field(None, description="Highest Opportunity.Amount that fires the rule (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> AmountRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"amount.min ({self.min:g}) is above amount.max ({self.max:g})")
        return self


class RecordFilter(_Strict):
    """Which opportunities in the trigger stage fire the rule; every condition given must hold."""

    record_types: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]] = Field(
        default_factory=list, description="RecordType.DeveloperName values (any of them); empty: any record type.")
    amount: AmountRange | None = Field(None, description="Opportunity.Amount range; an empty amount never matches.")
    field_equals: dict[FieldPath, str | bool | int | float | date | None] = Field(
        default_factory=dict, description="Opportunity field API name (or Relationship.Field) -> the value it must "
                                          "equal (dates as YYYY-MM-DD); null matches an empty field.")


# --- triggers ------------------------------------------------------------------------------------


class Trigger(_Strict):
    stages: list[str] = Field(min_length=1, description="Opportunity stages (API values) that start a signing.")
    filter: RecordFilter | None = Field(None, description="Only opportunities matching this filter fire the rule.")
    on_entry_only: bool = Field(
        True, description="true: fire only when an opportunity enters the stage. false: also fire for one that "
                          "entered earlier, the next time it is edited while in the stage (e.g. once its amount "
                          "meets the filter, or when the rule is new) — still once per stage entry.")

    @field_validator("stages")
    @classmethod
    def _no_blank_stage(cls, stages: list[str]) -> list[str]:
        if any(not s.strip() for s in stages):
            raise ValueError("stage names must not be blank")
        return stages


class DocumentSelector(_Strict):
    """Documents taken from the opportunity's files."""

    title_pattern: str = Field(
        "*", description="Shell-style pattern on the Salesforce file title, case-insensitive (e.g. 'Quote*')."
    )
    select: Literal["newest", "all"] = Field(
        "newest", description="Send the newest matching file, or every matching file."
    )
    required: bool = Field(True, description="Refuse the request when no file matches; false: send without it.")


# --- documents generated from a fillable PDF template ---------------------------------------------

MergeText = Annotated[str, AfterValidator(check_text)]


class TemplateFill(_Strict):
    path: str = Field(description="Fillable PDF, relative to the mapping file's folder (templates/order_form.pdf).")
    title: Annotated[MergeText, StringConstraints(min_length=1, max_length=255)] = Field(
        description="Title of the generated document (merge fields allowed); the signed copy is '<title> - signed'.")
    fields: dict[str, MergeText] = Field(
        default_factory=dict, description="PDF form field name -> text with merge fields (e.g. '{{Account.Name}}').")

    @field_validator("path")
    @classmethod
    def _stays_in_the_mapping_folder(cls, path: str) -> str:
        if len(path) > 255 or any(ord(c) < 32 for c in path):
            raise ValueError("template path must be at most 255 characters, without control characters")
        if path.startswith("/") or "\\" in path or ".." in path.split("/"):
            raise ValueError(f"template path {path!r} must be relative to the mapping file's folder and stay "
                             "inside it (use '/' and no '..'), e.g. templates/order_form.pdf")
        if not path.lower().endswith(".pdf"):
            raise ValueError(f"template path {path!r} must name a fillable PDF (.pdf)")
        return path


class TemplateDocument(_Strict):
    """A document generated from a fillable PDF in the repository, so no file needs attaching by hand."""

    template: TemplateFill


def _document_kind(value: object) -> str:
    if isinstance(value, TemplateDocument) or (isinstance(value, dict) and "template" in value):
        return "template-document"
    return "file-selector"


DocumentItem = Annotated[
    Annotated[DocumentSelector, Tag("file-selector")] | Annotated[TemplateDocument, Tag("template-document")],
    Discriminator(_document_kind),
]
# Tagged-union labels pydantic puts in error locations; the loader reads past them.
DOCUMENT_TAGS: dict[str, type[BaseModel]] = {"file-selector": DocumentSelector,
                                             "template-document": TemplateDocument}


class SignerRule(_Strict):
    role: str = Field(description="OpportunityContactRole.Role whose contact signs (the primary one first).")
    auth: Literal["email", "sms"] = Field("email", description="How the signer proves who they are.")
    delivery: Literal["email", "embedded"] = Field(
        "email", description="email: the provider emails the signing link. embedded: no email; the signing link "
                             "is written to the opportunity (writeback.signing_url) for signing on the spot.")


class InternalSigner(_Strict):
    """Someone on our side who signs too: the opportunity owner, or a named user."""

    owner: bool = Field(False, description="The opportunity owner signs (name and email from Salesforce).")
    email: str | None = Field(None, description="A named user's email, when not the owner.")
    first_name: str = ""
    last_name: str = ""
    position: Literal["before", "after"] = Field("after", description="Sign before or after the customer.")
    auth: Literal["email", "sms"] = "email"
    mobile_phone: str | None = Field(None, description="Needed with auth: sms.")
    delivery: Literal["email", "embedded"] = Field("email", description="As for signers: email or embedded.")

    @field_validator("email", "first_name", "last_name", "mobile_phone")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        char = first_control(value)
        if char is not None:  # signer identity: refused, as for contacts (connector/engine/signers.py)
            raise ValueError(f"contains a control character ({describe(char)}); remove it")
        return value

    @model_validator(mode="after")
    def _owner_or_named(self) -> InternalSigner:
        if self.owner == bool(self.email):
            raise ValueError("set either owner: true or an email for the internal signer, not both")
        return self


class ReminderSchedule(_Strict):
    """When signers are reminded. OneSpan keeps the schedule itself; for SignRequest and Legalsign, whose APIs take
    no schedule, the provider's automatic reminders are turned off and the connector sends each one."""

    interval_days: int = Field(ge=1, le=60, description="Days after sending until the first reminder, and between "
                                                          "reminders.")
    count: int = Field(ge=1, le=20, description="How many reminders at most.")


def _one_default_selector() -> list[DocumentItem]:
    return [DocumentSelector()]


Outcome = Literal["completed", "declined", "expired", "cancelled", "failed"]


def _retrigger_default() -> list[Outcome]:
    return ["declined", "expired", "cancelled", "failed"]


class Rule(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Stable rule id.")
    trigger: Trigger
    provider: ProviderName = Field(description="The signing provider: signrequest, onespan, legalsign, or "
                                                "another one installed.")
    documents: list[DocumentItem] = Field(
        default_factory=_one_default_selector, min_length=1,
        description="What is sent, in order: opportunity files (title_pattern/select/required) or `template:` "
                    "items. A single selector (the original form) is read as a list of one.")
    signers: list[SignerRule] = Field(min_length=1, description="Signers in signing order.")
    internal_signer: InternalSigner | None = Field(None, description="A countersigner from our side.")
    subject: str = Field("Please sign: {{Opportunity.Name}}", max_length=512)
    message: str = Field("Please review and sign the attached document for {{Opportunity.Name}}.")
    expires_in_days: int | None = Field(None, ge=1, le=730, description="Days before the request expires.")
    send_reminders: bool = Field(True, description="Remind signers who have not signed yet.")
    reminders: ReminderSchedule | None = Field(
        None, description="Your own reminder schedule. Left out: the provider's (SignRequest: days 3, 8, 13 and 18; "
                          "Legalsign: the group's; OneSpan: after 2 days, then every 3 days, 4 times).")
    cancel_on: list[str] = Field(
        default_factory=list,
        description="Stages that cancel this rule's pending request (e.g. 'Closed Lost').",
    )
    retrigger_after: list[Outcome] = Field(
        default_factory=_retrigger_default,
        description="When the opportunity enters the stage again, send a new request only if this rule's last one "
                    "ended so. By default a completed signing is never sent again.",
    )
    # --- write-back and stage moves (see mappings/writeback.py) ---
    writeback: RuleWriteback = Field(
        default_factory=RuleWriteback,
        description="Opportunity fields this rule writes; each defaults to its CONNECTOR_FIELD_* setting.",
    )
    receipt: bool = Field(
        True, description="Attach the connector's sealed signing receipt (`<title> - receipt`, JSON and PDF) "
                          "when the signing ends: completed, declined, expired or cancelled.")
    move_to_stage_on: StageMoves = Field(
        default_factory=StageMoves,
        description="Stage to move the opportunity to when the request is completed, declined, expired or "
                    "cancelled; written in the same update as the status.",
    )

    @model_validator(mode="after")
    def _moves_leave_the_trigger(self) -> Rule:
        for outcome, stage in self.move_to_stage_on.targets().items():
            if stage in self.trigger.stages:
                raise ValueError(f"move_to_stage_on.{outcome} moves the opportunity to {stage!r}, a trigger stage of "
                                 "this same rule, which would send it again; pick a stage outside trigger.stages")
        return self

    @model_validator(mode="after")
    def _one_embedded_signer(self) -> Rule:
        embedded = [s.role for s in self.signers if s.delivery == "embedded"]
        if self.internal_signer and self.internal_signer.delivery == "embedded":
            embedded.append("internal signer")
        if len(embedded) > 1:
            raise ValueError(f"{' and '.join(embedded)} both have delivery: embedded, but the opportunity has one "
                             "signing-URL field and an embedded signer gets no email; keep one embedded signer")
        return self

    # --- end write-back and stage moves ---

    # --- language (issue 4) -------------------------------------------------------------------
    language: str = Field("en", description="Language of the provider's e-mails and signing pages: an ISO 639-1 "
                                            "code (en, nl, fr, de...), optionally with a region (en-gb).")

    @field_validator("language")
    @classmethod
    def _language_code(cls, language: str) -> str:
        if not re.fullmatch(r"[a-z]{2}(-[a-z]{2})?", language):
            raise ValueError(f"{language!r} is not a language code; use a lower-case ISO 639-1 code such as en, nl, "
                             "fr or de, optionally with a region (en-gb)")
        return language

    currency: str | None = Field(
        None, description="ISO 4217 code (USD, EUR...) amounts print with: {{Opportunity.Amount}} becomes $22,500.00 "
                          "in en, 22.500,00 $ in de. Left out: the number alone, 22,500.00. Dates and numbers print "
                          "as the rule's language writes them either way.")

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, currency: str | None) -> str | None:
        if currency is not None and not (re.fullmatch(r"[A-Z]{3}", currency) and is_currency(currency)):
            raise ValueError(f"{currency!r} is not an ISO 4217 currency code; use an upper-case code such as USD, EUR "
                             "or GBP")
        return currency

    @field_validator("documents", mode="before")
    @classmethod
    def _single_selector_is_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _cancel_stage_is_not_a_trigger(self) -> Rule:
        both = sorted(set(self.cancel_on) & set(self.trigger.stages))
        if both:
            raise ValueError(f"stage(s) {', '.join(both)} both trigger and cancel this rule; pick one")
        return self

    @model_validator(mode="after")
    def _schedule_needs_reminders_on(self) -> Rule:
        if self.reminders is not None and not self.send_reminders:
            raise ValueError("send_reminders is false but a reminders schedule is given; remove one of them")
        return self

    @field_validator("subject", "message")
    @classmethod
    def _known_merge_fields(cls, text: str) -> str:
        return check_text(text)


class MappingFile(_Strict):
    version: Literal[1] = 1
    rules: list[Rule] = Field(min_length=1)
    # SHA-256 of the file's text as loaded (the loader sets it): which revision of the file a job started from.
    _revision: str | None = PrivateAttr(default=None)

    @property
    def revision(self) -> str | None:
        return self._revision

    @model_validator(mode="after")
    def _unique_ids(self) -> MappingFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice; rule ids must be unique")
            seen.add(rule.id)
        return self

    @model_validator(mode="after")
    def _no_stage_move_loops(self) -> MappingFile:
        for cycle in move_cycles(self.rules):
            raise ValueError(f"stage moves form a loop: {' -> '.join(cycle)} (each rule's move_to_stage_on lands in "
                             "the next rule's trigger stage), which would send requests without end; break the loop")
        return self

    def stages(self) -> list[str]:
        """Every stage the poller watches: the trigger stages and the cancelling ones."""
        return sorted({stage for rule in self.rules for stage in (*rule.trigger.stages, *rule.cancel_on)})

    def rules_for_stage(self, stage: str) -> list[Rule]:
        return [rule for rule in self.rules if stage in rule.trigger.stages]

    def rules_cancelled_by(self, stage: str) -> list[Rule]:
        return [rule for rule in self.rules if stage in rule.cancel_on]

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)
