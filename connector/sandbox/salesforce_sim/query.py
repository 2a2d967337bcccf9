"""SOQL execution against the org: field checks, filters, ordering, relationships, result shapes."""

from __future__ import annotations

import re
from datetime import date, datetime

from connector.sandbox.salesforce_sim.org import Org
from connector.sandbox.salesforce_sim.records import SfError, format_datetime, public_value
from connector.sandbox.salesforce_sim.schema import SCHEMA, ObjectSpec
from connector.sandbox.salesforce_sim.soql import Comparison, Logical, Query, SoqlError, parse

_CDL_FILTERS = {"id", "contentdocumentid", "linkedentityid"}


def _invalid_field(name: str, spec: ObjectSpec) -> SfError:
    return SfError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{spec.name}'. If you are attempting "
                   "to use a custom field, be sure to append the '__c' after the custom field name.")


class Executor:
    def __init__(self, org: Org, api_version: str):
        self.org = org
        self.api_version = api_version

    def run(self, text: str) -> list[dict]:
        try:
            query = parse(text)
        except SoqlError as exc:
            raise SfError(400, exc.code, exc.message) from None
        spec = SCHEMA.get(query.sobject) or next(
            (s for n, s in SCHEMA.items() if n.lower() == query.sobject.lower()), None)
        if spec is None:
            raise SfError(400, "INVALID_TYPE", f"sObject type '{query.sobject}' is not supported.")
        self._check(query, spec)
        if spec.name == "ContentDocumentLink" and not self._filters_on(query.where, _CDL_FILTERS):
            raise SfError(400, "MALFORMED_QUERY", "Implementation restriction: ContentDocumentLink requires a filter "
                          "by a single Id on ContentDocumentId or LinkedEntityId using the equals operator or "
                          "multiple Id's using the IN operator.")
        with self.org.lock:
            self._children: dict[tuple[str, str], dict[str, list[dict]]] = {}
            rows = list(self.org.records[spec.name].values())
            return self._select(query, spec, rows)

    # --- checking --------------------------------------------------------------------------

    def _resolve(self, path: str, spec: ObjectSpec) -> tuple[list[ObjectSpec], str]:
        """The chain of objects a dotted path walks, and the final field's API name."""
        parts = path.split(".")
        chain = [spec]
        for relationship in parts[:-1]:
            reference = chain[-1].parent_field(relationship)
            if reference is None:
                raise SfError(400, "INVALID_FIELD", f"Didn't understand relationship '{relationship}' in field path. "
                              "If you are attempting to use a custom relationship, be sure to append the '__r'.")
            chain.append(SCHEMA[reference.reference_to[0]])
        field = chain[-1].field(parts[-1])
        if field is None:
            raise _invalid_field(parts[-1], chain[-1])
        return chain, field.name

    def _check(self, query: Query, spec: ObjectSpec) -> None:
        for item in query.fields:
            if isinstance(item, Query):
                relationship = spec.child(item.sobject)
                if relationship is None:
                    raise SfError(400, "INVALID_TYPE", f"Didn't understand relationship '{item.sobject}' in FROM part "
                                  "of query call.")
                self._check(item, SCHEMA[relationship.child])
            else:
                self._resolve(item, spec)
        for name, *_ in query.order:
            self._resolve(name, spec)
        for comparison in self._comparisons(query.where):
            chain, field_name = self._resolve(comparison.field, spec)
            if not chain[-1].fields[field_name].filterable:
                raise SfError(400, "INVALID_FIELD", f"field '{field_name}' can not be filtered in a query call")

    def _comparisons(self, node) -> list[Comparison]:
        if node is None:
            return []
        if isinstance(node, Comparison):
            return [node]
        return [c for part in node.parts for c in self._comparisons(part)]

    def _filters_on(self, node, names: set[str]) -> bool:
        if isinstance(node, Comparison):
            return node.field.lower() in names and node.op in ("=", "IN")
        if isinstance(node, Logical) and node.op == "AND":
            return any(self._filters_on(part, names) for part in node.parts)
        return False

    # --- evaluating ------------------------------------------------------------------------

    def _value(self, record: dict | None, path: str, spec: ObjectSpec) -> object:
        parts = path.split(".")
        for relationship in parts[:-1]:
            if record is None:
                return None
            reference = spec.parent_field(relationship)
            target = record.get(reference.name)
            found = self.org.find(target) if target else None
            record, spec = (found[1], SCHEMA[found[0]]) if found else (None, spec)
        if record is None:
            return None
        field = spec.field(parts[-1])
        return record.get(field.name) if field else None

    def _matches(self, node, record: dict, spec: ObjectSpec) -> bool:
        if node is None:
            return True
        if isinstance(node, Logical):
            if node.op == "AND":
                return all(self._matches(p, record, spec) for p in node.parts)
            if node.op == "OR":
                return any(self._matches(p, record, spec) for p in node.parts)
            return not self._matches(node.parts[0], record, spec)
        return _compare(self._value(record, node.field, spec), node.op, node.value)

    def _select(self, query: Query, spec: ObjectSpec, rows: list[dict]) -> list[dict]:
        rows = [r for r in rows if self._matches(query.where, r, spec)]
        for name, descending, nulls_last in reversed(query.order):
            present = [r for r in rows if self._value(r, name, spec) is not None]
            absent = [r for r in rows if self._value(r, name, spec) is None]
            present.sort(key=lambda r, n=name: _sort_key(self._value(r, n, spec)), reverse=descending)
            rows = present + absent if nulls_last else absent + present
        rows = rows[query.offset:]
        if query.limit is not None:
            rows = rows[: query.limit]
        return [self._shape(query, spec, row) for row in rows]

    def _attributes(self, spec: ObjectSpec, record_id: str) -> dict:
        return {"type": spec.name, "url": f"/services/data/v{self.api_version}/sobjects/{spec.name}/{record_id}"}

    def _shape(self, query: Query, spec: ObjectSpec, record: dict) -> dict:
        out: dict = {"attributes": self._attributes(spec, record["Id"])}
        for item in query.fields:
            if isinstance(item, Query):
                relationship = spec.child(item.sobject)
                child_spec = SCHEMA[relationship.child]
                children = self._children_of(child_spec.name, relationship.field).get(record["Id"], [])
                shaped = self._select(item, child_spec, children)
                out[relationship.name] = ({"totalSize": len(shaped), "done": True, "records": shaped}
                                          if shaped else None)
            else:
                self._place(out, item.split("."), record, spec)
        return out

    def _children_of(self, child: str, field: str) -> dict[str, list[dict]]:
        """Child rows by parent Id, built once per query (a poll reads hundreds of parents)."""
        key = (child, field)
        if key not in self._children:
            index: dict[str, list[dict]] = {}
            for row in self.org.records[child].values():
                index.setdefault(row.get(field), []).append(row)
            self._children[key] = index
        return self._children[key]

    def _place(self, out: dict, parts: list[str], record: dict, spec: ObjectSpec) -> None:
        if len(parts) == 1:
            field = spec.field(parts[0])
            out[field.name] = public_value(field, record.get(field.name))
            return
        reference = spec.parent_field(parts[0])
        target = record.get(reference.name)
        found = self.org.find(target) if target else None
        if found is None:
            out[reference.relationship] = None
            return
        parent_spec = SCHEMA[found[0]]
        nested = out.get(reference.relationship) or {"attributes": self._attributes(parent_spec, found[1]["Id"])}
        out[reference.relationship] = nested
        self._place(nested, parts[1:], found[1], parent_spec)


def _sort_key(value: object):
    if isinstance(value, str):
        return value.lower()
    return value


def _normalise(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return value.lower()
    return value


def _compare(actual: object, op: str, expected: object) -> bool:
    if op in ("IN", "NOT IN"):
        inside = any(_compare(actual, "=", item) for item in expected)
        return inside if op == "IN" else not inside
    if op == "LIKE":
        if actual is None:
            return False
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(expected))
        return re.fullmatch(pattern, str(actual), re.I | re.S) is not None
    a, b = _normalise(actual), _normalise(expected)
    if isinstance(a, datetime) and isinstance(b, str):  # a date literal against a datetime field
        a = a.date().isoformat()
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if a is None or b is None:
        return False
    try:
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
    except TypeError:
        raise SfError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator {op} for the value {expected!r}") \
            from None


__all__ = ["Executor", "format_datetime"]
