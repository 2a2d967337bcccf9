"""Describe results: the org's object list and one object's fields, picklists and child relationships."""

from __future__ import annotations

import re

from sandbox.salesforce_sim.schema import SCHEMA, FieldSpec, ObjectSpec


def _label(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)


def _plural(label: str) -> str:
    if label.endswith("y") and not label.endswith("ey"):
        return label[:-1] + "ies"
    return label + ("es" if label.endswith("s") else "s")


def _urls(spec: ObjectSpec, version: str) -> dict:
    base = f"/services/data/v{version}/sobjects/{spec.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def _object_summary(spec: ObjectSpec, version: str) -> dict:
    label = _label(spec.name)
    return {
        "name": spec.name, "label": label, "labelPlural": _plural(label), "keyPrefix": spec.prefix,
        "custom": False,
        "createable": spec.createable, "updateable": spec.updateable, "deletable": spec.deletable,
        "queryable": True, "retrieveable": True, "searchable": spec.name != "OpportunityHistory",
        "urls": _urls(spec, version),
    }


def describe_global(version: str) -> dict:
    return {"encoding": "UTF-8", "maxBatchSize": 200,
            "sobjects": [_object_summary(spec, version) for spec in SCHEMA.values()]}


def object_info(spec: ObjectSpec, version: str) -> dict:
    return {"objectDescribe": _object_summary(spec, version), "recentItems": []}


def _field(field: FieldSpec) -> dict:
    return {
        "name": field.name, "label": field.label, "type": field.type, "length": field.length,
        "custom": field.name.endswith("__c"), "createable": field.createable, "updateable": field.updateable,
        "nillable": field.nillable, "filterable": field.filterable, "sortable": field.sortable,
        "defaultedOnCreate": field.default is not None or not (field.createable or field.updateable),
        "calculated": False, "externalId": False, "unique": field.name == "Id",
        "restrictedPicklist": bool(field.picklist), "referenceTo": list(field.reference_to),
        "relationshipName": field.relationship, "polymorphicForeignKey": len(field.reference_to) > 1,
        "picklistValues": [{"active": True, "defaultValue": value == field.default, "label": value,
                            "validFor": None, "value": value} for value in field.picklist],
    }


def describe_object(spec: ObjectSpec, version: str) -> dict:
    return {
        **_object_summary(spec, version),
        "fields": [_field(field) for field in spec.fields.values()],
        "childRelationships": [{"childSObject": c.child, "field": c.field, "relationshipName": c.name,
                                "cascadeDelete": True} for c in spec.children],
    }
