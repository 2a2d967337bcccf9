"""Ids, values and errors of the simulated org."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime

from connector.sandbox.salesforce_sim.schema import KEY_PREFIXES, FieldSpec

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


class SfError(Exception):
    """A Salesforce REST error: HTTP status, errorCode, message, and the fields concerned."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def body(self) -> list[dict]:
        item: dict = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


def checksum_suffix(id15: str) -> str:
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, ch in enumerate(id15[start:start + 5]) if "A" <= ch <= "Z")
        suffix += _SUFFIX[bits]
    return suffix


class IdFactory:
    def __init__(self, org_seed: int = 1):
        self._counter = itertools.count(org_seed * 1000 + 1)

    def new(self, prefix: str) -> str:
        number, digits = next(self._counter), ""
        while number:
            number, rest = divmod(number, 62)
            digits = _ALPHABET[rest] + digits
        id15 = prefix + "5g" + digits.rjust(10, "0")  # "5g" stands for the org's pod, as real Ids carry one
        return id15 + checksum_suffix(id15)


def normalise_id(value: str) -> str | None:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        return None
    return value if len(value) == 18 else value + checksum_suffix(value)


def object_for_id(value: str) -> str | None:
    return KEY_PREFIXES.get(value[:3])


def format_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime:
    cleaned = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", cleaned):
        cleaned = cleaned[:-2] + ":" + cleaned[-2:]
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        raise ValueError("datetime needs a time zone")
    return parsed.astimezone(UTC)


def coerce(spec: FieldSpec, value: object, object_name: str) -> object:
    """A JSON value converted to the field's type, or an SfError like Salesforce's."""
    if value is None:
        if spec.required:
            raise SfError(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{spec.name}]", [spec.name])
        return None
    wrong = SfError(400, "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{spec.name}: value not of required type: {value!r}", [spec.name])
    if spec.type in ("string", "textarea", "email", "phone", "picklist", "id"):
        if not isinstance(value, str):
            raise wrong
        if spec.length and len(value) > spec.length:
            raise SfError(400, "STRING_TOO_LONG",
                          f"{spec.name}: data value too large: {value[:40]}... (max length={spec.length})", [spec.name])
        if spec.type == "picklist" and spec.picklist and value not in spec.picklist:
            raise SfError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                          f"{spec.name}: bad value for restricted picklist field: {value}", [spec.name])
        if spec.type == "email" and value and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise SfError(400, "INVALID_EMAIL_ADDRESS", f"{spec.name}: invalid email address: {value}", [spec.name])
        return value
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise wrong
        return value
    if spec.type in ("double", "currency", "percent", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return value
    if spec.type == "date":
        try:
            return date.fromisoformat(value).isoformat() if isinstance(value, str) else _raise(wrong)
        except ValueError:
            raise wrong from None
    if spec.type == "datetime":
        try:
            return parse_datetime(value) if isinstance(value, str) else _raise(wrong)
        except ValueError:
            raise wrong from None
    if spec.type == "reference":
        normalised = normalise_id(value) if isinstance(value, str) else None
        if normalised is None:
            raise SfError(400, "MALFORMED_ID", f"{spec.name}: id value of incorrect type: {value}", [spec.name])
        return normalised
    return value


def _raise(exc: Exception):
    raise exc


def public_value(spec: FieldSpec | None, value: object) -> object:
    """A stored value as Salesforce's JSON shows it."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, bytes):
        return None
    return value
