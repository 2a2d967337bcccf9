"""Field values: JSON in (checked against the field's type), stored Python values, and JSON out."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sandbox.salesforce_sim.errors import SfError, required_missing
from sandbox.salesforce_sim.ids import canonical_id
from sandbox.salesforce_sim.schema import FieldSpec

_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_JSON_TYPES = {"boolean": "boolean", "int": "int", "double": "double", "currency": "currency",
               "percent": "double", "date": "date", "datetime": "datetime"}


def format_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime:
    """A date-time with a zone (Z, +hh:mm or +hhmm) as UTC, cut to milliseconds like Salesforce stores it."""
    if not _DATETIME.fullmatch(text):
        raise ValueError(text)
    cleaned = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", cleaned):
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]
    head, _, fraction = cleaned[:-6].partition(".")
    micros = (fraction + "000000")[:6] if fraction else "000000"
    parsed = datetime.fromisoformat(f"{head}.{micros}{cleaned[-6:]}").astimezone(UTC)
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def parse_date(text: str) -> str:
    if not _DATE.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text).isoformat()


def _not_deserializable(spec: FieldSpec, value: object) -> SfError:
    tokens = {str: "VALUE_STRING", bool: "VALUE_" + str(value).upper(), dict: "START_OBJECT",
              list: "START_ARRAY"}
    token = tokens.get(type(value), "VALUE_NUMBER_INT" if isinstance(value, int) else "VALUE_NUMBER_FLOAT")
    expected = _JSON_TYPES.get(spec.type, "string")
    return SfError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {expected} from {token} value "
                   f"{value} or request may be missing a required field", [spec.name])


def coerce(spec: FieldSpec, value: object) -> object:
    """The JSON `value` for field `spec` as stored, or the SfError Salesforce answers with."""
    if value is None:
        if not spec.nillable:
            raise required_missing([spec.name])
        return None
    if spec.textual or spec.type == "reference":
        if not isinstance(value, str):
            raise _not_deserializable(spec, value)
        return _text(spec, value) if spec.textual else _reference(spec, value)
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise _not_deserializable(spec, value)
        return value
    if spec.type in ("int", "double", "currency", "percent"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _not_deserializable(spec, value)
        return value if spec.type == "int" else float(value)  # Salesforce answers 1000.0, not 1000
    if spec.type in ("date", "datetime"):
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return parse_date(value) if spec.type == "date" else parse_datetime(value)
        except ValueError:
            raise _not_deserializable(spec, value) from None
    return value


def _text(spec: FieldSpec, value: str) -> str | None:
    if spec.length and len(value) > spec.length:
        raise SfError(400, "STRING_TOO_LONG", f"{spec.label}: data value too large: {value[:40]!s}... "
                      f"(max length={spec.length})", [spec.name])
    if value == "":
        if not spec.nillable:
            raise required_missing([spec.name])
        return None  # Salesforce stores an empty string as null
    if spec.type == "picklist" and spec.picklist and value not in spec.picklist:
        raise SfError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                      f"{spec.label}: bad value for restricted picklist field: {value}", [spec.name])
    if spec.type == "email" and not _EMAIL.fullmatch(value):
        raise SfError(400, "INVALID_EMAIL_ADDRESS", f"{spec.label}: invalid email address: {value}",
                      [spec.name])
    return value


def _reference(spec: FieldSpec, value: str) -> str | None:
    if value == "":
        return None
    canonical = canonical_id(value)
    if canonical is None:
        raise SfError(400, "MALFORMED_ID", f"{spec.label}: id value of incorrect type: {value}", [spec.name])
    return canonical


def public_value(value: object) -> object:
    """A stored value as Salesforce's JSON shows it."""
    if isinstance(value, datetime):
        return format_datetime(value)
    return value
