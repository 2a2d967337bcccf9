"""Change event headers and their bitmap fields, decoded as the Pub/Sub API delivers them (Avro)."""

from __future__ import annotations

import io
import json

import fastavro
import pytest

from adapters.salesforce.pubsub.change_events import EventDecodeError, EventSchema
from connector.ports.change_feed import ChangeType

HEADER = {"type": "record", "name": "ChangeEventHeader", "fields": [
    {"name": "entityName", "type": "string"},
    {"name": "recordIds", "type": {"type": "array", "items": "string"}},
    {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "symbols": [t.value for t in ChangeType]}},
    {"name": "changedFields", "type": {"type": "array", "items": "string"}}]}
ADDRESS = {"type": "record", "name": "Address", "fields": [
    {"name": "Street", "type": ["null", "string"], "default": None},
    {"name": "City", "type": ["null", "string"], "default": None},
    {"name": "PostalCode", "type": ["null", "string"], "default": None}]}
# Top-level field indexes: 0 header, 1 Name, 2 StageName, 3 Amount, 4 BillingAddress, 5 NextStep
SCHEMA = {"type": "record", "name": "OpportunityChangeEvent", "namespace": "com.sforce.eventbus", "fields": [
    {"name": "ChangeEventHeader", "type": HEADER},
    {"name": "Name", "type": ["null", "string"], "default": None},
    {"name": "StageName", "type": ["null", "string"], "default": None},
    {"name": "Amount", "type": ["null", "double"], "default": None},
    {"name": "BillingAddress", "type": ["null", ADDRESS], "default": None},
    {"name": "NextStep", "type": ["null", "string"], "default": None}]}


@pytest.fixture
def schema() -> EventSchema:
    return EventSchema.from_json(json.dumps(SCHEMA))


def encode(header: dict, **values) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(SCHEMA), {"ChangeEventHeader": header, **values})
    return out.getvalue()


def test_a_top_level_bitmap_names_the_fields_by_position_from_the_least_significant_bit(schema):
    assert schema.field_names(["0x4"]) == {"StageName"}
    assert schema.field_names(["0x2C"]) == {"StageName", "Amount", "NextStep"}  # bits 2, 3, 5


def test_a_compound_field_bitmap_names_its_subfields(schema):
    # 0x10 is bit 4 (BillingAddress itself); "4-0x6" is City and PostalCode inside it.
    assert schema.field_names(["0x10", "4-0x6"]) == {"BillingAddress", "BillingAddress.City",
                                                     "BillingAddress.PostalCode"}


def test_names_that_are_not_bitmaps_are_taken_as_they_are(schema):
    assert schema.field_names(["StageName", "LastModifiedDate"]) == {"StageName", "LastModifiedDate"}


@pytest.mark.parametrize("bitmap", ["0x40", "2-0x1", "9-0x1", "4-0x8"])
def test_a_bitmap_that_does_not_fit_the_schema_is_an_error(schema, bitmap):
    with pytest.raises(EventDecodeError):
        schema.field_names([bitmap])


def test_a_change_event_decodes_to_its_header(schema):
    payload = encode({"entityName": "Opportunity", "recordIds": ["006A", "006B"], "changeType": "UPDATE",
                      "changedFields": ["0x6"]}, Name="Acme", StageName="Contract Sent")
    change = schema.decode(payload)
    assert (change.entity, change.change_type, change.record_ids) == ("Opportunity", ChangeType.UPDATE,
                                                                      ("006A", "006B"))
    assert change.changed_fields == {"Name", "StageName"}
    assert change.changed("stagename") and not change.changed("Amount")


def test_gap_and_overflow_change_types_are_gaps(schema):
    gap = schema.decode(encode({"entityName": "Opportunity", "recordIds": ["006A"], "changeType": "GAP_UPDATE",
                                "changedFields": []}))
    overflow = schema.decode(encode({"entityName": "Opportunity", "recordIds": [], "changeType": "GAP_OVERFLOW",
                                     "changedFields": []}))
    assert gap.change_type.is_gap and gap.changed_fields == frozenset()
    assert overflow.change_type is ChangeType.GAP_OVERFLOW and overflow.record_ids == ()
    assert not ChangeType.UPDATE.is_gap


@pytest.mark.parametrize("payload", [b"", b"\xff\xff\xff\xff\xff\xff\xff", b"\x02"])
def test_a_payload_that_does_not_match_the_schema_is_a_located_error(schema, payload):
    with pytest.raises(EventDecodeError, match="payload"):
        schema.decode(payload)


def test_a_schema_that_is_not_avro_is_an_error():
    with pytest.raises(EventDecodeError, match="schema"):
        EventSchema.from_json('{"type": "record"')
