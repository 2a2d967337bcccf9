"""The simulated org's data and the writes the platform allows, with their side effects.

Every method takes the org's lock; an all-or-none call (Composite, Collections) keeps an undo
journal so that a failure part-way can put every touched record back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sandbox.salesforce_sim import effects
from sandbox.salesforce_sim.errors import (
    SfError,
    bad_json,
    invalid_field,
    not_found,
    required_missing,
)
from sandbox.salesforce_sim.files import create_version, title_follows
from sandbox.salesforce_sim.ids import IdFactory, canonical_id
from sandbox.salesforce_sim.schema import SCHEMA, ObjectSpec, object_for_id, object_spec
from sandbox.salesforce_sim.values import coerce


class Org:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.ids = IdFactory()
        self.records: dict[str, dict[str, dict]] = {name: {} for name in SCHEMA}
        self.blobs: dict[str, bytes] = {}  # ContentVersion Id -> file bytes
        self.integration_user_id = ""
        self._last_stamp = datetime(2000, 1, 1, tzinfo=UTC)
        self._journal: list[tuple[str, str, dict | None]] | None = None
        # Called after every save with (object, record before or None, record): automation such as a Flow,
        # and the change events (Change Data Capture).
        self.save_listeners: list[Callable[[str, dict | None, dict], None]] = []

    # --- all-or-none -----------------------------------------------------------------------

    @contextmanager
    def transaction(self, all_or_none: bool = True) -> Iterator[Org]:
        """Journal the writes made inside the block so that `rollback()` can undo them."""
        with self.lock:
            outer, self._journal = self._journal, ([] if all_or_none else None)
            try:
                yield self
            finally:
                self._journal = outer

    def rollback(self) -> None:
        for name, record_id, before in reversed(self._journal or []):
            if before is None:
                self.records[name].pop(record_id, None)
                self.blobs.pop(record_id, None)
            else:
                self.records[name][record_id] = before
        self._journal = []

    def remember(self, name: str, record_id: str) -> None:
        """Call before changing or adding a record, so a rollback can restore it."""
        if self._journal is not None:
            before = self.records[name].get(record_id)
            self._journal.append((name, record_id, dict(before) if before is not None else None))

    # --- reading ---------------------------------------------------------------------------

    def spec(self, name: str) -> ObjectSpec:
        spec = object_spec(name)
        if spec is None:
            raise not_found()
        return spec

    def get(self, name: str, record_id: str) -> dict | None:
        """A record by Id in any form, deleted ones included."""
        canonical = canonical_id(record_id)
        return self.records[name].get(canonical) if canonical else None

    def find(self, record_id: str) -> tuple[str, dict] | None:
        name = object_for_id(record_id)
        record = self.get(name, record_id) if name else None
        return (name, record) if record else None

    def live(self, name: str) -> list[dict]:
        return [r for r in self.records[name].values() if not r["IsDeleted"]]

    def require(self, name: str, record_id: str, *, writing: bool = False) -> dict:
        """The record a REST URL names, or the 404 (400 for a write to a deleted one) Salesforce sends."""
        if canonical_id(record_id) is None:
            raise SfError(404, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "
                          + record_id)
        record = self.get(name, record_id)
        if record is None:
            raise not_found()
        if record["IsDeleted"]:
            raise SfError(400 if writing else 404, "ENTITY_IS_DELETED", "entity is deleted")
        return record

    # --- writing ---------------------------------------------------------------------------

    def stamp(self) -> datetime:
        """Now, to the millisecond, and always later than the previous stamp so polling cursors work."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self._last_stamp = max(now, self._last_stamp + timedelta(milliseconds=1))
        return self._last_stamp

    def latest_stamp(self) -> datetime:
        """The newest stamp handed out; it runs ahead of the wall clock when many writes share a millisecond."""
        return self._last_stamp

    def create(self, name: str, body: object, *, actor: str | None = None, blob: bytes | None = None) -> str:
        spec = self.spec(name)
        if not spec.createable:
            raise SfError(400, "INVALID_TYPE", f"entity type {spec.name} does not support insert")
        with self.lock:
            values = self._validated(spec, body, creating=True)
            actor = actor or self.integration_user_id
            if spec.name == "ContentVersion":
                return create_version(self, values, blob, actor)
            if spec.name == "ContentDocumentLink":
                self._refuse_duplicate_link(values)
            return self.insert(spec, values, actor)

    def insert(self, spec: ObjectSpec, values: dict, actor: str) -> str:
        """Store a new record from already validated values, with its system fields and side effects."""
        stamp = self.stamp()
        record = {f.name: f.default for f in spec.fields.values()}
        record.update(values)
        record["Id"] = self.ids.new(spec.prefix)
        for field, value in (("CreatedDate", stamp), ("LastModifiedDate", stamp), ("SystemModstamp", stamp),
                             ("CreatedById", actor), ("LastModifiedById", actor)):
            if field in spec.fields:
                record[field] = value
        if "OwnerId" in spec.fields and not record.get("OwnerId"):
            record["OwnerId"] = actor or None
        effects.derive(spec.name, record, set(values), creating=True)
        self.remember(spec.name, record["Id"])
        self.records[spec.name][record["Id"]] = record
        self._after_save(spec.name, None, record, actor)
        return record["Id"]

    def update(self, name: str, record_id: str, body: object, *, actor: str | None = None) -> None:
        spec = self.spec(name)
        with self.lock:
            if not spec.updateable:
                raise SfError(400, "INVALID_TYPE", f"entity type {spec.name} does not support update")
            record = self.require(spec.name, record_id, writing=True)
            values = self._validated(spec, body, creating=False)
            if spec.name == "ContentVersion" and not record["IsLatest"]:
                raise SfError(400, "FIELD_INTEGRITY_EXCEPTION", "Only the latest version can be updated")
            before = dict(record)
            self.remember(spec.name, record["Id"])
            record.update(values)
            self.touch(spec, record, actor or self.integration_user_id)
            changed = {k for k in values if before.get(k) != record.get(k)}
            effects.derive(spec.name, record, changed, creating=False)
            self._after_save(spec.name, before, record, actor or self.integration_user_id)

    def touch(self, spec: ObjectSpec, record: dict, actor: str) -> None:
        stamp = self.stamp()
        record["SystemModstamp"] = stamp
        if "LastModifiedDate" in spec.fields:
            record.update(LastModifiedDate=stamp, LastModifiedById=actor)

    def delete(self, name: str, record_id: str, *, actor: str | None = None) -> None:
        spec = self.spec(name)
        with self.lock:
            if not spec.deletable:
                raise SfError(405, "METHOD_NOT_ALLOWED",
                              "HTTP Method 'DELETE' not allowed. Allowed are GET,PATCH")
            record = self.require(spec.name, record_id, writing=True)
            self._soft_delete(spec, record, actor or self.integration_user_id)

    def _soft_delete(self, spec: ObjectSpec, record: dict, actor: str) -> None:
        """Into the recycle bin (queryAll still sees it), taking the records that belong to it along."""
        self.remember(spec.name, record["Id"])
        record["IsDeleted"] = True
        self.touch(spec, record, actor)
        for relationship in spec.children:
            child_spec = SCHEMA[relationship.child]
            for child in self.live(child_spec.name):
                if child.get(relationship.field) == record["Id"]:
                    self._soft_delete(child_spec, child, actor)

    def _after_save(self, name: str, before: dict | None, record: dict, actor: str) -> None:
        if name == "Opportunity" and effects.needs_history(before, record):
            values = effects.history_row(record, before)
            self.insert(SCHEMA["OpportunityHistory"], values, actor)
        elif name == "OpportunityContactRole" and record.get("IsPrimary"):
            for other in self.live(name):
                same_opportunity = other["OpportunityId"] == record["OpportunityId"]
                if same_opportunity and other["IsPrimary"] and other is not record:
                    self.remember(name, other["Id"])
                    other["IsPrimary"] = False
                    self.touch(SCHEMA[name], other, actor)
        elif name in ("ContentVersion", "ContentDocument") and before is not None:
            title_follows(self, name, record)
        for listener in self.save_listeners:
            listener(name, before, record)

    def _refuse_duplicate_link(self, values: dict) -> None:
        for link in self.live("ContentDocumentLink"):
            if (link["ContentDocumentId"], link["LinkedEntityId"]) == (values["ContentDocumentId"],
                                                                        values["LinkedEntityId"]):
                raise SfError(400, "DUPLICATE_VALUE", f"Document with ID: {values['ContentDocumentId']} is "
                              f"already linked with the entity with ID: {values['LinkedEntityId']}",
                              ["LinkedEntityId"])

    # --- validation ------------------------------------------------------------------------

    def _validated(self, spec: ObjectSpec, body: object, *, creating: bool) -> dict:
        if not isinstance(body, dict):
            raise bad_json(f"Cannot deserialize instance of {spec.name} from the request body: a JSON object "
                           "is required")
        values: dict = {}
        for key, value in body.items():
            if key == "attributes":
                continue
            field = spec.field(key)
            if field is None:
                raise invalid_field(f"No such column '{key}' on sobject of type {spec.name}")
            if creating and field.name == "Id":
                raise invalid_field("cannot specify Id in an insert call", ["Id"])
            if not (field.createable if creating else field.updateable):
                raise SfError(400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: "
                              f"{field.name}. Please check the security settings of this field and verify "
                              "that it is read/write for your profile or permission set.", [field.name])
            if field.type == "base64":
                values[field.name] = value  # decoded with the file, which knows the size limits
                continue
            values[field.name] = coerce(field, value)
            if field.type == "reference" and values[field.name] is not None:
                self._check_reference(field.name, field.label, values[field.name], field.reference_to)
        if creating:
            missing = [f.name for f in spec.fields.values()
                       if f.required and f.default is None and values.get(f.name) is None]
            if missing:
                raise required_missing(missing)
        return values

    def _check_reference(self, field: str, label: str, value: str, allowed: tuple[str, ...]) -> None:
        target = object_for_id(value)
        if target not in allowed:
            raise SfError(400, "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [field])
        record = self.get(target, value)
        if record is None or record["IsDeleted"]:
            raise SfError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [field])
