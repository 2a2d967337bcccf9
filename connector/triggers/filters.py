"""`trigger.filter`: does an opportunity in a trigger stage fire the rule?"""

from __future__ import annotations

from datetime import date

from connector.ports.crm import Opportunity
from connector.triggers.record_fields import AMOUNT, RECORD_TYPE, record_value
from mappings.models import RecordFilter


def _equal(actual: object, wanted: object) -> bool:
    if wanted is None or actual is None:
        return actual is None and wanted is None
    if isinstance(wanted, date):
        return str(actual) == wanted.isoformat()  # Salesforce sends dates as YYYY-MM-DD
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and isinstance(wanted, bool) and actual == wanted
    if isinstance(wanted, int | float) and isinstance(actual, int | float):
        return float(actual) == float(wanted)
    return str(actual) == str(wanted)


def mismatch(rule_filter: RecordFilter | None, opportunity: Opportunity) -> str | None:
    """Why `opportunity` does not pass `rule_filter`, or None when it does (or there is no filter)."""
    if rule_filter is None:
        return None
    if rule_filter.record_types:
        record_type = record_value(opportunity, RECORD_TYPE)
        if record_type not in rule_filter.record_types:
            return (f"record type {record_type!r} is not one of {', '.join(rule_filter.record_types)}"
                    if record_type else "it has no record type")
    if rule_filter.amount:
        amount = record_value(opportunity, AMOUNT)
        low, high = rule_filter.amount.min, rule_filter.amount.max
        if not isinstance(amount, int | float) or isinstance(amount, bool):
            return "its Amount is empty"
        if low is not None and amount < low:
            return f"Amount {amount:g} is below {low:g}"
        if high is not None and amount > high:
            return f"Amount {amount:g} is above {high:g}"
    for path, wanted in rule_filter.field_equals.items():
        actual = record_value(opportunity, path)
        if not _equal(actual, wanted):
            return f"{path} is {actual!r}, not {wanted!r}"
    return None
