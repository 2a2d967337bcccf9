"""Running a checked SOQL statement against the org and shaping rows as the REST API returns them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sandbox.salesforce_sim.errors import SfError
from sandbox.salesforce_sim.org import Org
from sandbox.salesforce_sim.rest_paths import record_url
from sandbox.salesforce_sim.schema import SCHEMA, ObjectSpec, object_spec
from sandbox.salesforce_sim.soql import Comparison, Condition, Logical, Query, parse
from sandbox.salesforce_sim.soql_check import FieldPath, check, resolve
from sandbox.salesforce_sim.values import public_value

# Turns a child subquery's shaped rows into the value of its relationship field (None when empty).
ChildResult = Callable[[list[dict]], dict | None]


class QueryRun:
    """One execution of one statement, with the child rows indexed once (a poll reads many parents)."""

    def __init__(self, org: Org, api_version: str, include_deleted: bool, child_result: ChildResult):
        self.org = org
        self.api_version = api_version
        self.include_deleted = include_deleted
        self.child_result = child_result
        self._children: dict[tuple[str, str], dict[str, list[dict]]] = {}
        self._paths: dict[tuple[str, str], FieldPath] = {}

    def run(self, text: str) -> list[dict]:
        query = parse(text)
        spec = object_spec(query.sobject)
        if spec is None:
            raise SfError(400, "INVALID_TYPE", f"sObject type '{query.sobject}' is not supported. If you "
                          "are attempting to use a custom object, be sure to append the '__c' after the "
                          "entity name.")
        check(query, spec)
        with self.org.lock:
            return self._select(query, spec, self._rows(spec.name))

    def _rows(self, name: str) -> list[dict]:
        rows = self.org.records[name].values()
        return [r for r in rows if self.include_deleted or not r["IsDeleted"]]

    # --- values ------------------------------------------------------------------------------

    def _path(self, text: str, spec: ObjectSpec) -> FieldPath:
        key = (spec.name, text)
        if key not in self._paths:
            self._paths[key] = resolve(text, spec)
        return self._paths[key]

    def _parent(self, record: dict, lookup_field: str) -> tuple[ObjectSpec, dict] | None:
        target = record.get(lookup_field)
        found = self.org.find(target) if target else None
        if found is None or (found[1]["IsDeleted"] and not self.include_deleted):
            return None
        return SCHEMA[found[0]], found[1]

    def _value(self, record: dict, path: FieldPath) -> object:
        current: dict | None = record
        for hop in path.hops:
            parent = self._parent(current, hop.name) if current else None
            current = parent[1] if parent else None
        return current.get(path.field.name) if current else None

    def _matches(self, node: Condition | None, record: dict, spec: ObjectSpec) -> bool:
        if node is None:
            return True
        if isinstance(node, Logical):
            results = (self._matches(part, record, spec) for part in node.parts)
            if node.op == "AND":
                return all(results)
            if node.op == "OR":
                return any(results)
            return not next(results)
        return _compare(self._value(record, self._path(node.field, spec)), node)

    # --- select ------------------------------------------------------------------------------

    def _select(self, query: Query, spec: ObjectSpec, rows: list[dict]) -> list[dict]:
        rows = [r for r in rows if self._matches(query.where, r, spec)]
        for ordering in reversed(query.order):
            path = self._path(ordering.field, spec)
            present = [r for r in rows if self._value(r, path) is not None]
            absent = [r for r in rows if self._value(r, path) is None]
            present.sort(key=lambda r, p=path: _sort_key(self._value(r, p)), reverse=ordering.descending)
            rows = present + absent if ordering.nulls_last else absent + present
        rows = rows[query.offset:]
        if query.limit is not None:
            rows = rows[:query.limit]
        return [self._shape(query, spec, row) for row in rows]

    def _attributes(self, spec: ObjectSpec, record_id: str) -> dict:
        return {"type": spec.name, "url": record_url(self.api_version, spec.name, record_id)}

    def _shape(self, query: Query, spec: ObjectSpec, record: dict) -> dict:
        out: dict = {"attributes": self._attributes(spec, record["Id"])}
        for item in query.fields:
            if isinstance(item, Query):
                relationship = spec.child(item.sobject)
                child_spec = SCHEMA[relationship.child]
                children = self._children_of(child_spec.name, relationship.field).get(record["Id"], [])
                out[relationship.name] = self.child_result(self._select(item, child_spec, children))
            else:
                self._place(out, self._path(item, spec), 0, record, spec)
        return out

    def _children_of(self, child: str, field: str) -> dict[str, list[dict]]:
        key = (child, field)
        if key not in self._children:
            index: dict[str, list[dict]] = {}
            for row in self._rows(child):
                index.setdefault(row.get(field), []).append(row)
            self._children[key] = index
        return self._children[key]

    def _place(self, out: dict, path: FieldPath, hop: int, record: dict, spec: ObjectSpec) -> None:
        if hop == len(path.hops):
            out[path.field.name] = self._public(spec, record, path.field.name)
            return
        lookup = path.hops[hop]
        parent = self._parent(record, lookup.name)
        if parent is None:
            out[lookup.relationship] = None
            return
        parent_spec, parent_record = parent
        nested = out.get(lookup.relationship)
        if nested is None:
            nested = {"attributes": self._attributes(parent_spec, parent_record["Id"])}
            if len(lookup.reference_to) > 1:  # a polymorphic lookup reaches the parent as a "Name" record
                nested["attributes"]["type"] = "Name"
            out[lookup.relationship] = nested
        self._place(nested, path, hop + 1, parent_record, parent_spec)

    def _public(self, spec: ObjectSpec, record: dict, field: str) -> object:
        if spec.fields[field].type == "base64":  # a blob comes back as the URL that serves it
            return f"{record_url(self.api_version, spec.name, record['Id'])}/{field}"
        return public_value(record.get(field))


def _sort_key(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _comparable(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _compare(actual: object, comparison: Comparison) -> bool:
    op, expected = comparison.op, comparison.value
    if op in ("IN", "NOT IN"):
        inside = any(_comparable(actual) == _comparable(item) for item in expected)
        return inside if op == "IN" else not inside
    if op == "LIKE":
        return actual is not None and comparison.pattern.fullmatch(str(actual)) is not None
    a, b = _comparable(actual), _comparable(expected)
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if a is None:
        return False
    if isinstance(a, datetime) != isinstance(b, datetime):
        return False
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
