"""Checking a parsed SOQL statement against the schema, with the errors Salesforce gives.

Unknown fields and relationships, fields that cannot be filtered or sorted, and literals of the
wrong type for their field are all refused before any row is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sandbox.salesforce_sim.errors import (
    CUSTOM_FIELD_HINT,
    CUSTOM_RELATIONSHIP_HINT,
    SfError,
    invalid_field,
)
from sandbox.salesforce_sim.ids import canonical_id
from sandbox.salesforce_sim.schema import SCHEMA, FieldSpec, ObjectSpec
from sandbox.salesforce_sim.soql import Comparison, Condition, Logical, Query

MAX_NESTING = 5  # parent-to-child levels, the root included (API 58.0+)
_CONTENT_DOCUMENT_LINK_KEYS = {"id", "contentdocumentid", "linkedentityid"}
_NUMBERS = ("int", "double", "currency", "percent")


@dataclass(frozen=True)
class FieldPath:
    hops: tuple[FieldSpec, ...]  # the lookup fields walked, e.g. (OwnerId,) for Owner.Name
    field: FieldSpec

    @property
    def key(self) -> str:
        return ".".join([*(h.relationship or "" for h in self.hops), self.field.name]).lower()


def resolve(path: str, spec: ObjectSpec) -> FieldPath:
    """The lookups and the field a dotted path names; through a polymorphic lookup the field must exist
    on every object the lookup may point to."""
    parts = path.split(".")
    candidates, hops = [spec], []
    for relationship in parts[:-1]:
        lookups = [s.parent_field(relationship) for s in candidates]
        if any(lookup is None for lookup in lookups):
            raise invalid_field(f"Didn't understand relationship '{relationship}' in field path. "
                                + CUSTOM_RELATIONSHIP_HINT)
        hops.append(lookups[0])
        candidates = [SCHEMA[target] for target in lookups[0].reference_to]
    fields = [s.field(parts[-1]) for s in candidates]
    if any(f is None for f in fields):
        entity = candidates[0].name if len(candidates) == 1 else "Name"
        raise invalid_field(f"No such column '{parts[-1]}' on entity '{entity}'. {CUSTOM_FIELD_HINT}")
    return FieldPath(tuple(hops), fields[0])


def check(query: Query, spec: ObjectSpec, depth: int = 1) -> None:
    if depth > MAX_NESTING:
        raise SfError(400, "MALFORMED_QUERY", f"Relationship queries may nest at most {MAX_NESTING} levels")
    seen: set[str] = set()
    for item in query.fields:
        if isinstance(item, Query):
            relationship = spec.child(item.sobject)
            if relationship is None:
                raise SfError(400, "INVALID_TYPE", f"Didn't understand relationship '{item.sobject}' in FROM "
                              f"part of query call. {CUSTOM_RELATIONSHIP_HINT}")
            key = relationship.name.lower()
            check(item, SCHEMA[relationship.child], depth + 1)
        else:
            key = resolve(item, spec).key
        if key in seen:
            raise invalid_field(f"duplicate field selected: {item if isinstance(item, str) else key}")
        seen.add(key)
    for ordering in query.order:
        if not resolve(ordering.field, spec).field.sortable:
            raise invalid_field(f"field '{ordering.field}' can not be sorted in a query call")
    for comparison in comparisons(query.where):
        _check_comparison(comparison, resolve(comparison.field, spec).field)
    if spec.name == "ContentDocumentLink" and depth == 1:
        _check_content_document_link(query.where)


def comparisons(node: Condition | None) -> list[Comparison]:
    if node is None:
        return []
    if isinstance(node, Comparison):
        return [node]
    return [c for part in node.parts for c in comparisons(part)]


def _check_comparison(comparison: Comparison, field: FieldSpec) -> None:
    if not field.filterable:
        raise invalid_field(f"field '{field.name}' can not be filtered in a query call")
    op = comparison.op
    if op == "LIKE" and not field.textual:
        raise _bad_operator(op, field)
    ordered = op in ("<", ">", "<=", ">=")
    if ordered and (field.type in ("boolean", "id", "reference") or comparison.value is None):
        raise _bad_operator(op, field)
    values = comparison.value if op in ("IN", "NOT IN") else [comparison.value]
    if op in ("IN", "NOT IN"):
        comparison.value = [_checked_literal(v, field) for v in values]
    else:
        comparison.value = _checked_literal(comparison.value, field)


def _bad_operator(op: str, field: FieldSpec) -> SfError:
    return SfError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {field.type} field: "
                   f"{field.name} {op}")


def _checked_literal(value: object, field: FieldSpec) -> object:
    """The literal as the field's values are stored, or the error for a literal of the wrong kind."""
    if value is None:
        return None
    kind = field.type
    if kind in ("id", "reference"):
        canonical = canonical_id(value) if isinstance(value, str) else None
        if canonical is None:
            raise SfError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}")
        return canonical
    if field.textual and isinstance(value, str):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind in _NUMBERS and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "datetime" and isinstance(value, datetime):
        return value
    if kind == "date" and isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    quoting = "be enclosed" if field.textual else "not be enclosed"
    type_name = {"datetime": "dateTime", "textarea": "string", "email": "string", "phone": "string",
                 "picklist": "string"}.get(kind, kind)
    raise invalid_field(f"value of filter criterion for field '{field.name}' must be of type {type_name} "
                        f"and should {quoting} in quotes")


def _check_content_document_link(where: Condition | None) -> None:
    restriction = SfError(400, "MALFORMED_QUERY", "Implementation restriction: ContentDocumentLink requires "
                          "a filter by a single Id on ContentDocumentId or LinkedEntityId using the equals "
                          "operator or multiple Id's using the IN operator.")
    top_level = [where] if isinstance(where, Comparison) else (
        where.parts if isinstance(where, Logical) and where.op == "AND" else [])
    keys = {c.field.lower() for c in top_level if isinstance(c, Comparison) and c.op in ("=", "IN")}
    if not keys & _CONTENT_DOCUMENT_LINK_KEYS:
        raise restriction
    on_document = any(c.field.lower().startswith("contentdocument.") for c in comparisons(where))
    if on_document and "linkedentityid" not in keys:
        raise SfError(400, "MALFORMED_QUERY", "Implementation restriction: filtering on ContentDocument "
                      "fields requires a filter on LinkedEntityId.")
