"""Object and field metadata of the simulated org: what may be read, created and updated."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # id, string, textarea, email, phone, picklist, boolean, number kinds, date, datetime, reference, base64
    length: int = 0
    createable: bool = True
    updateable: bool = True
    required: bool = False
    picklist: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    relationship: str | None = None  # parent relationship name, e.g. Owner for OwnerId
    default: object = None
    filterable: bool = True


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

    def field(self, name: str) -> FieldSpec | None:
        spec = self.fields.get(name)
        if spec:
            return spec
        lowered = name.lower()
        return next((f for f in self.fields.values() if f.name.lower() == lowered), None)

    def parent_field(self, relationship: str) -> FieldSpec | None:
        lowered = relationship.lower()
        return next((f for f in self.fields.values() if f.relationship and f.relationship.lower() == lowered), None)

    def child(self, relationship: str) -> ChildRelationship | None:
        lowered = relationship.lower()
        return next((c for c in self.children if c.name.lower() == lowered), None)


def _system() -> list[FieldSpec]:
    ro = {"createable": False, "updateable": False}
    return [FieldSpec("Id", "id", 18, **ro), FieldSpec("CreatedDate", "datetime", **ro),
            FieldSpec("LastModifiedDate", "datetime", **ro), FieldSpec("SystemModstamp", "datetime", **ro),
            FieldSpec("IsDeleted", "boolean", **ro, default=False)]


def _obj(name: str, prefix: str, fields: list[FieldSpec], children=(), createable=True) -> ObjectSpec:
    return ObjectSpec(name, prefix, {f.name: f for f in [*_system(), *fields]}, tuple(children), createable)


STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Contract Sent", "Closed Won", "Closed Lost")
ROLES = ("Decision Maker", "Economic Buyer", "Business User", "Technical Buyer", "Evaluator", "Influencer", "Other")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
RO = {"createable": False, "updateable": False}


def _ref(name: str, to: str, relationship: str, **kw) -> FieldSpec:
    return FieldSpec(name, "reference", 18, reference_to=(to,), relationship=relationship, **kw)


SCHEMA: dict[str, ObjectSpec] = {o.name: o for o in [
    _obj("User", "005", [FieldSpec("Name", "string", 121, **RO), FieldSpec("FirstName", "string", 40),
                         FieldSpec("LastName", "string", 80, required=True), FieldSpec("Email", "email", 128),
                         FieldSpec("Username", "string", 80), FieldSpec("IsActive", "boolean", default=True)]),
    _obj("Account", "001", [FieldSpec("Name", "string", 255, required=True), _ref("OwnerId", "User", "Owner")],
         [ChildRelationship("Contacts", "Contact", "AccountId"),
          ChildRelationship("Opportunities", "Opportunity", "AccountId")]),
    _obj("Contact", "003", [
        FieldSpec("FirstName", "string", 40), FieldSpec("LastName", "string", 80, required=True),
        FieldSpec("Name", "string", 121, **RO), FieldSpec("Email", "email", 80),
        FieldSpec("MobilePhone", "phone", 40), FieldSpec("Phone", "phone", 40),
        FieldSpec("MailingCity", "string", 40), _ref("AccountId", "Account", "Account")]),
    _obj("Opportunity", "006", [
        FieldSpec("Name", "string", 120, required=True),
        FieldSpec("StageName", "picklist", 255, required=True, picklist=STAGES),
        FieldSpec("CloseDate", "date", required=True), FieldSpec("Amount", "currency"),
        FieldSpec("Probability", "percent"), _ref("AccountId", "Account", "Account"),
        _ref("OwnerId", "User", "Owner"),
        FieldSpec("IsClosed", "boolean", **RO, default=False), FieldSpec("IsWon", "boolean", **RO, default=False),
        FieldSpec("LastStageChangeDate", "datetime", **RO),
        FieldSpec("Signing_Status__c", "string", 255), FieldSpec("Signing_Request_Id__c", "string", 255),
        FieldSpec("Signing_Sent_At__c", "datetime"), FieldSpec("Signing_Completed_At__c", "datetime"),
        FieldSpec("Signing_Last_Error__c", "textarea", 4000, filterable=False)],
        [ChildRelationship("OpportunityContactRoles", "OpportunityContactRole", "OpportunityId"),
         ChildRelationship("ContentDocumentLinks", "ContentDocumentLink", "LinkedEntityId"),
         ChildRelationship("Tasks", "Task", "WhatId"),
         ChildRelationship("OpportunityHistories", "OpportunityHistory", "OpportunityId")]),
    _obj("OpportunityContactRole", "00K", [
        _ref("OpportunityId", "Opportunity", "Opportunity", required=True, updateable=False),
        _ref("ContactId", "Contact", "Contact", required=True),
        FieldSpec("Role", "picklist", 40, picklist=ROLES), FieldSpec("IsPrimary", "boolean", default=False)]),
    _obj("OpportunityHistory", "008", [
        _ref("OpportunityId", "Opportunity", "Opportunity", **RO), FieldSpec("StageName", "picklist", 255, **RO),
        FieldSpec("Amount", "currency", **RO), FieldSpec("CloseDate", "date", **RO)], createable=False),
    _obj("ContentDocument", "069", [
        FieldSpec("Title", "string", 255), FieldSpec("FileExtension", "string", 40, **RO),
        FieldSpec("ContentSize", "int", **RO), _ref("LatestPublishedVersionId", "ContentVersion",
                                                    "LatestPublishedVersion", **RO)],
        [ChildRelationship("ContentVersions", "ContentVersion", "ContentDocumentId")], createable=False),
    _obj("ContentVersion", "068", [
        FieldSpec("Title", "string", 255), FieldSpec("PathOnClient", "string", 500, required=True, updateable=False),
        FieldSpec("VersionData", "base64", updateable=False, filterable=False),
        _ref("FirstPublishLocationId", "Opportunity", "FirstPublishLocation", updateable=False),
        _ref("ContentDocumentId", "ContentDocument", "ContentDocument", updateable=False),
        FieldSpec("FileExtension", "string", 40, **RO), FieldSpec("ContentSize", "int", **RO),
        FieldSpec("Checksum", "string", 50, **RO), FieldSpec("IsLatest", "boolean", **RO, default=True),
        FieldSpec("VersionNumber", "string", 20, **RO), FieldSpec("Description", "textarea", 1000)]),
    _obj("ContentDocumentLink", "06A", [
        _ref("ContentDocumentId", "ContentDocument", "ContentDocument", required=True, updateable=False),
        _ref("LinkedEntityId", "Opportunity", "LinkedEntity", required=True, updateable=False),
        FieldSpec("ShareType", "picklist", 40, required=True, picklist=("V", "C", "I")),
        FieldSpec("Visibility", "picklist", 40, picklist=("AllUsers", "InternalUsers", "SharedUsers"))]),
    _obj("Task", "00T", [
        _ref("WhatId", "Opportunity", "What"), _ref("WhoId", "Contact", "Who"),
        FieldSpec("Subject", "string", 255),
        FieldSpec("Status", "picklist", 40, required=True, picklist=TASK_STATUSES, default="Not Started"),
        FieldSpec("Priority", "picklist", 40, required=True, picklist=("High", "Normal", "Low"), default="Normal"),
        FieldSpec("Description", "textarea", 32000, filterable=False), FieldSpec("ActivityDate", "date"),
        _ref("OwnerId", "User", "Owner")]),
]}

KEY_PREFIXES = {spec.prefix: name for name, spec in SCHEMA.items()}

