"""What a Salesforce error means for the connector: repeat now, back off, or tell a person what to fix.

Salesforce reports errors as a JSON array of {errorCode, message, fields}; a few resources send a
single object, save results say `statusCode` instead of `errorCode`, and a proxy may send text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from connector.ports.crm import CRMError
from connector.ports.errors import ErrorKind

REPEAT_AT_ONCE = frozenset({"UNABLE_TO_LOCK_ROW"})  # the write was rolled back; the lock clears in moments
BACK_OFF = frozenset({"REQUEST_LIMIT_EXCEEDED"})  # repeating now only burns the allocation
HALTED = frozenset({"PROCESSING_HALTED", "BATCH_PROCESSING_HALTED"})  # a side effect of another failure

_COLUMN_IN_MESSAGE = re.compile(r"No such column '([^']+)'")
_MAX_MESSAGE = 500

_ADVICE = {
    "INVALID_FIELD": "create {fields} in Salesforce and give the integration user access to it, "
                     "or set {settings} to an existing field",
    "INVALID_FIELD_FOR_INSERT_UPDATE": "make {fields} editable for the integration user (field-level "
                                       "security), or set {settings} to an editable field",
    "STRING_TOO_LONG": "lengthen {fields} in Salesforce, or shorten what the connector writes there",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "a validation rule in the org refused the change; ask the "
                                         "Salesforce admin to let the integration user's update through",
    "REQUIRED_FIELD_MISSING": "{fields} is required by the org; give it a default or make it optional",
    "ENTITY_IS_DELETED": "the record is in the recycle bin; restore it, or let this job go",
    "NOT_FOUND": "the record no longer exists or the integration user cannot see it",
    "MALFORMED_ID": "the Id is not a valid Id for this object",
    "MALFORMED_QUERY": "the query was refused; check the configured stage names, or report a connector bug",
    "INVALID_TYPE": "the object is unknown or hidden from the integration user",
    "INVALID_CROSS_REFERENCE_KEY": "a linked record does not exist or is not visible to the integration user",
    "INSUFFICIENT_ACCESS_OR_READONLY": "give the integration user edit access to the record",
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": "give the integration user access to the linked record",
    "DUPLICATES_DETECTED": "a duplicate rule blocked the save; exempt the integration user from it",
    "INVALID_EMAIL_ADDRESS": "correct the e-mail address in Salesforce",
    "API_DISABLED_FOR_ORG": "the org's edition or the integration user's profile lacks 'API Enabled'",
    "API_CURRENTLY_DISABLED": "the org's edition or the integration user's profile lacks 'API Enabled'",
    "INVALID_SESSION_ID": "a session issued moments ago was refused; check the connected app's IP and "
                          "session policies",
    "REQUEST_LIMIT_EXCEEDED": "the org's API allocation is used up; the connector backs off and tries later",
}


@dataclass(frozen=True)
class SalesforceProblem:
    status: int | None
    code: str
    message: str
    fields: tuple[str, ...] = ()

    @classmethod
    def from_body(cls, body: object, status: int | None) -> SalesforceProblem:
        first = body[0] if isinstance(body, list) and body else body
        if not isinstance(first, dict):
            text = str(body or "").strip()[:_MAX_MESSAGE] or "no error body"
            return cls(status, f"HTTP_{status}", text)
        code = str(first.get("errorCode") or first.get("statusCode") or f"HTTP_{status}")
        message = str(first.get("message") or "")[:_MAX_MESSAGE]
        fields = tuple(str(f) for f in first.get("fields") or ())
        if not fields and (column := _COLUMN_IN_MESSAGE.search(message)):
            fields = (column.group(1),)
        return cls(status, code, message, fields)

    @property
    def halted_by_another(self) -> bool:
        return self.code in HALTED

    @property
    def repeat_at_once(self) -> bool:
        return self.code in REPEAT_AT_ONCE or (self.status or 0) >= 500


class TransientSalesforceError(CRMError):
    """A failure worth repeating within the same call (with backoff): row lock, 5xx, dropped connection."""

    def __init__(self, message: str, code: str):
        super().__init__(message, kind=ErrorKind.TRANSIENT, code=code)


def to_crm_error(problem: SalesforceProblem, what: str,
                 field_settings: Mapping[str, str] | None = None) -> CRMError:
    """`what` names the attempted operation ("the update of Opportunity 006…"); `field_settings`
    maps field API names to the setting that configures them, for the advice."""
    named = f" {', '.join(problem.fields)}" if problem.fields else ""
    text = f"Salesforce refused {what}: {problem.code}{named}: {problem.message or 'no message'}"
    advice = _advice(problem, field_settings or {})
    if advice:
        text += f" — {advice}"
    if problem.repeat_at_once:
        return TransientSalesforceError(text, problem.code)
    if problem.code in BACK_OFF:
        return CRMError(text, code=problem.code, kind=ErrorKind.BACKPRESSURE)
    kind = ErrorKind.TRANSIENT if problem.code == "INVALID_SESSION_ID" else ErrorKind.PERMANENT
    return CRMError(text, kind=kind, code=problem.code)


def _advice(problem: SalesforceProblem, field_settings: Mapping[str, str]) -> str:
    template = _ADVICE.get(problem.code)
    if template is None:
        return ""
    fields = ", ".join(problem.fields) or "the field"
    settings = [field_settings[f] for f in problem.fields if f in field_settings]
    return template.format(fields=fields,
                           settings=", ".join(settings) or "the matching CONNECTOR_FIELD_* setting")
