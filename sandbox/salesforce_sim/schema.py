"""Object and field metadata of the simulated org: what exists, and what may be read, filtered and written."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # id, string, textarea, email, phone, picklist, boolean, int, double, currency, percent,
    #            date, datetime, reference, base64
    length: int = 0
    createable: bool = True
    updateable: bool = True
    required: bool = False  # not nillable and no default: a create must set it
    picklist: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None  # e.g. Owner for OwnerId
    default: object = None
    filterable: bool = True

    @property
    def nillable(self) -> bool:
        return not self.required and self.type not in ("boolean", "id")

    @property
    def sortable(self) -> bool:
        return self.filterable  # long text areas and blobs can be neither

    @property
    def textual(self) -> bool:
        return self.type in ("string", "textarea", "email", "phone", "picklist", "url")

    @property
    def label(self) -> str:
        words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", self.name.removesuffix("__c").replace("_", " "))
        return words[:-3] + " ID" if self.type == "reference" and words.endswith(" Id") else words


@dataclass(frozen=True)
class ChildRelationship:
    name: str
    child: str
    field: str


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    prefix: str
    fields: dict[str, FieldSpec]
    children: tuple[ChildRelationship, ...] = ()
    createable: bool = True
    updateable: bool = True
    deletable: bool = True

    def field(self, name: str) -> FieldSpec | None:
        return self.fields.get(name) or _by_lower_name(self.fields.values(), name)

    def parent_field(self, relationship: str) -> FieldSpec | None:
        lowered = relationship.lower()
        return next((f for f in self.fields.values()
                     if f.relationship and f.relationship.lower() == lowered), None)

    def child(self, relationship: str) -> ChildRelationship | None:
        lowered = relationship.lower()
        return next((c for c in self.children if c.name.lower() == lowered), None)


def _by_lower_name(fields, name: str):
    lowered = name.lower()
    return next((f for f in fields if f.name.lower() == lowered), None)


READ_ONLY = {"createable": False, "updateable": False}
CREATE_ONLY = {"updateable": False}


def _ref(name: str, to: str | tuple[str, ...], relationship: str, **kwargs) -> FieldSpec:
    targets = (to,) if isinstance(to, str) else to
    return FieldSpec(name, "reference", 18, reference_to=targets, relationship=relationship, **kwargs)


def _system(*, modified: bool = True, created: bool = True) -> list[FieldSpec]:
    fields = [FieldSpec("Id", "id", 18, **READ_ONLY),
              FieldSpec("IsDeleted", "boolean", **READ_ONLY, default=False)]
    if created:
        fields += [FieldSpec("CreatedDate", "datetime", **READ_ONLY),
                   _ref("CreatedById", "User", "CreatedBy", **READ_ONLY)]
    if modified:
        fields += [FieldSpec("LastModifiedDate", "datetime", **READ_ONLY),
                   _ref("LastModifiedById", "User", "LastModifiedBy", **READ_ONLY)]
    return [*fields, FieldSpec("SystemModstamp", "datetime", **READ_ONLY)]


def _object(name: str, prefix: str, fields: list[FieldSpec], children: tuple = (), *, modified: bool = True,
            created: bool = True, **flags) -> ObjectSpec:
    every = [*_system(modified=modified, created=created), *fields]
    relationships = tuple(ChildRelationship(*c) for c in children)
    return ObjectSpec(name, prefix, {f.name: f for f in every}, relationships, **flags)


# Stage -> (default probability, forecast category); both are recomputed when the stage changes.
STAGES = {
    "Prospecting": (10, "Pipeline"), "Qualification": (20, "Pipeline"), "Proposal": (50, "Pipeline"),
    "Negotiation": (75, "Best Case"), "Verbal Commitment": (85, "Commit"),
    "Contract Sent": (90, "Commit"), "Closed Won": (100, "Closed"),
    "Closed Lost": (0, "Omitted"),
}
CLOSED_STAGES = {"Closed Won": True, "Closed Lost": False}  # stage -> IsWon
FORECAST_CATEGORIES = ("Omitted", "Pipeline", "Best Case", "Commit", "Closed")
ROLES = ("Decision Maker", "Economic Buyer", "Business User", "Technical Buyer", "Evaluator", "Influencer",
         "Other")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
CLOSED_TASK_STATUSES = {"Completed"}
FILE_HOLDERS = ("Opportunity", "Account", "Contact", "User")  # what a file may be linked to

SCHEMA: dict[str, ObjectSpec] = {spec.name: spec for spec in [
    _object("User", "005", [
        FieldSpec("Name", "string", 121, **READ_ONLY), FieldSpec("FirstName", "string", 40),
        FieldSpec("LastName", "string", 80, required=True), FieldSpec("Email", "email", 128),
        FieldSpec("Username", "string", 80), FieldSpec("Title", "string", 80), FieldSpec("Phone", "phone", 40),
        FieldSpec("IsActive", "boolean", default=True)]),
    # Record types are metadata: the API reads them, only Setup (here: the simulator itself) makes them.
    _object("RecordType", "012", [
        FieldSpec("Name", "string", 80), FieldSpec("DeveloperName", "string", 80),
        FieldSpec("SobjectType", "string", 40), FieldSpec("IsActive", "boolean", default=True)],
        createable=False, updateable=False, deletable=False),
    _object("Account", "001", [
        FieldSpec("Name", "string", 255, required=True), FieldSpec("Phone", "phone", 40),
        FieldSpec("BillingStreet", "textarea", 255), FieldSpec("BillingCity", "string", 40),
        FieldSpec("BillingPostalCode", "string", 20), FieldSpec("BillingCountry", "string", 80),
        FieldSpec("Website", "string", 255), FieldSpec("Industry", "string", 40),
        _ref("OwnerId", "User", "Owner")],
        [("Contacts", "Contact", "AccountId"), ("Opportunities", "Opportunity", "AccountId"),
         ("Tasks", "Task", "WhatId"), ("ContentDocumentLinks", "ContentDocumentLink", "LinkedEntityId")]),
    _object("Contact", "003", [
        FieldSpec("FirstName", "string", 40), FieldSpec("LastName", "string", 80, required=True),
        FieldSpec("Name", "string", 121, **READ_ONLY), FieldSpec("Email", "email", 80),
        FieldSpec("MobilePhone", "phone", 40), FieldSpec("Phone", "phone", 40),
        FieldSpec("Title", "string", 128), FieldSpec("MailingCity", "string", 40),
        _ref("AccountId", "Account", "Account"), _ref("OwnerId", "User", "Owner")],
        [("OpportunityContactRoles", "OpportunityContactRole", "ContactId"), ("Tasks", "Task", "WhoId"),
         ("ContentDocumentLinks", "ContentDocumentLink", "LinkedEntityId")]),
    _object("Opportunity", "006", [
        FieldSpec("Name", "string", 120, required=True),
        FieldSpec("StageName", "picklist", 255, required=True, picklist=tuple(STAGES)),
        FieldSpec("CloseDate", "date", required=True), FieldSpec("Amount", "currency"),
        FieldSpec("Probability", "percent"),
        FieldSpec("ForecastCategoryName", "picklist", 40, picklist=FORECAST_CATEGORIES, **READ_ONLY),
        FieldSpec("Description", "textarea", 32000, filterable=False), FieldSpec("NextStep", "string", 255),
        FieldSpec("Type", "picklist", 255, picklist=("New Customer", "Existing Customer - Upgrade",
                                                     "Existing Customer - Renewal")),
        FieldSpec("LeadSource", "string", 40),
        _ref("AccountId", "Account", "Account"), _ref("OwnerId", "User", "Owner"),
        _ref("RecordTypeId", "RecordType", "RecordType"),
        FieldSpec("IsClosed", "boolean", **READ_ONLY, default=False),
        FieldSpec("IsWon", "boolean", **READ_ONLY, default=False),
        FieldSpec("LastStageChangeDate", "datetime", **READ_ONLY),
        FieldSpec("Signing_Status__c", "string", 255), FieldSpec("Signing_Request_Id__c", "string", 255),
        FieldSpec("Signing_Sent_At__c", "datetime"), FieldSpec("Signing_Completed_At__c", "datetime"),
        FieldSpec("Signing_Last_Error__c", "textarea", 4000, filterable=False),
        # Optional fields of per-rule write-backs (decline reason, embedded signer's link).
        FieldSpec("Signing_Decline_Reason__c", "textarea", 4000, filterable=False),
        FieldSpec("Signing_URL__c", "url", 255)],
        [("OpportunityContactRoles", "OpportunityContactRole", "OpportunityId"),
         ("ContentDocumentLinks", "ContentDocumentLink", "LinkedEntityId"), ("Tasks", "Task", "WhatId"),
         ("OpportunityHistories", "OpportunityHistory", "OpportunityId")]),
    _object("OpportunityContactRole", "00K", [
        _ref("OpportunityId", "Opportunity", "Opportunity", required=True, **CREATE_ONLY),
        _ref("ContactId", "Contact", "Contact", required=True),
        FieldSpec("Role", "picklist", 40, picklist=ROLES), FieldSpec("IsPrimary", "boolean", default=False)]),
    _object("OpportunityHistory", "008", [
        _ref("OpportunityId", "Opportunity", "Opportunity", **READ_ONLY),
        FieldSpec("StageName", "picklist", 255, picklist=tuple(STAGES), **READ_ONLY),
        FieldSpec("Amount", "currency", **READ_ONLY), FieldSpec("ExpectedRevenue", "currency", **READ_ONLY),
        FieldSpec("CloseDate", "date", **READ_ONLY), FieldSpec("Probability", "percent", **READ_ONLY),
        FieldSpec("ForecastCategory", "picklist", 40, picklist=FORECAST_CATEGORIES, **READ_ONLY),
        FieldSpec("PrevAmount", "currency", **READ_ONLY), FieldSpec("PrevCloseDate", "date", **READ_ONLY)],
        modified=False, createable=False, updateable=False, deletable=False),
    _object("ContentDocument", "069", [
        FieldSpec("Title", "string", 255), FieldSpec("FileExtension", "string", 40, **READ_ONLY),
        FieldSpec("FileType", "string", 20, **READ_ONLY), FieldSpec("ContentSize", "int", **READ_ONLY),
        _ref("LatestPublishedVersionId", "ContentVersion", "LatestPublishedVersion", **READ_ONLY),
        _ref("OwnerId", "User", "Owner", **READ_ONLY)],
        [("ContentVersions", "ContentVersion", "ContentDocumentId"),
         ("ContentDocumentLinks", "ContentDocumentLink", "ContentDocumentId")], createable=False),
    _object("ContentVersion", "068", [
        FieldSpec("Title", "string", 255),
        FieldSpec("PathOnClient", "string", 500, required=True, **CREATE_ONLY),
        FieldSpec("VersionData", "base64", **CREATE_ONLY, filterable=False),
        _ref("FirstPublishLocationId", FILE_HOLDERS, "FirstPublishLocation", **CREATE_ONLY),
        _ref("ContentDocumentId", "ContentDocument", "ContentDocument", **CREATE_ONLY),
        FieldSpec("ContentLocation", "picklist", 40, picklist=("S", "E", "L"), default="S", **CREATE_ONLY),
        FieldSpec("Description", "textarea", 1000), FieldSpec("ReasonForChange", "string", 1000),
        FieldSpec("FileExtension", "string", 40, **READ_ONLY),
        FieldSpec("FileType", "string", 20, **READ_ONLY),
        FieldSpec("ContentSize", "int", **READ_ONLY), FieldSpec("Checksum", "string", 50, **READ_ONLY),
        FieldSpec("IsLatest", "boolean", **READ_ONLY, default=True),
        FieldSpec("VersionNumber", "string", 20, **READ_ONLY), _ref("OwnerId", "User", "Owner", **READ_ONLY)],
        deletable=False),
    _object("ContentDocumentLink", "06A", [
        _ref("ContentDocumentId", "ContentDocument", "ContentDocument", required=True, **CREATE_ONLY),
        _ref("LinkedEntityId", FILE_HOLDERS, "LinkedEntity", required=True, **CREATE_ONLY),
        FieldSpec("ShareType", "picklist", 40, required=True, picklist=("V", "C", "I")),
        FieldSpec("Visibility", "picklist", 40, picklist=("AllUsers", "InternalUsers", "SharedUsers"),
                  default="AllUsers")],
        modified=False, created=False),
    _object("Task", "00T", [
        _ref("WhatId", ("Opportunity", "Account"), "What"), _ref("WhoId", "Contact", "Who"),
        FieldSpec("Subject", "string", 255),
        FieldSpec("Status", "picklist", 40, required=True, picklist=TASK_STATUSES, default="Not Started"),
        FieldSpec("Priority", "picklist", 40, required=True, picklist=("High", "Normal", "Low"),
                  default="Normal"),
        FieldSpec("Description", "textarea", 32000, filterable=False), FieldSpec("ActivityDate", "date"),
        FieldSpec("IsClosed", "boolean", **READ_ONLY, default=False),
        FieldSpec("TaskSubtype", "picklist", 40, picklist=("Task", "Email", "Call", "ListEmail", "LinkedIn"),
                  default="Task", **CREATE_ONLY),
        _ref("OwnerId", "User", "Owner")]),
]}

KEY_PREFIXES = {spec.prefix: name for name, spec in SCHEMA.items()}


def object_spec(name: str) -> ObjectSpec | None:
    """The object named `name`, in any letter case, as Salesforce accepts it in URLs and SOQL."""
    return SCHEMA.get(name) or next((s for n, s in SCHEMA.items() if n.lower() == name.lower()), None)


def object_for_id(record_id: str) -> str | None:
    return KEY_PREFIXES.get(record_id[:3])
