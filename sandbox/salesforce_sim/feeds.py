"""The replication feeds `sobjects/X/updated/` and `sobjects/X/deleted/` (SystemModstamp based)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox.salesforce_sim.errors import SfError
from sandbox.salesforce_sim.org import Org
from sandbox.salesforce_sim.schema import ObjectSpec
from sandbox.salesforce_sim.values import format_datetime, parse_datetime

MAX_LOOKBACK = timedelta(days=30)
MAX_IDS = 600_000


def _window(org: Org, query: dict[str, str]) -> tuple[datetime, datetime]:
    try:
        start, end = parse_datetime(query["start"]), parse_datetime(query["end"])
    except (KeyError, ValueError):
        raise SfError(400, "MALFORMED_QUERY", "start and end must be ISO 8601 date-times with a zone") \
            from None
    start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)  # whole minutes
    if end <= start:
        raise SfError(400, "INVALID_REPLICATION_DATE", "end date must be after start date")
    if start < datetime.now(UTC) - MAX_LOOKBACK:
        raise SfError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    covered = max(datetime.now(UTC), org.latest_stamp() + timedelta(milliseconds=1))
    return start, min(end, covered)


def updated(org: Org, spec: ObjectSpec, query: dict[str, str]) -> dict:
    start, end = _window(org, query)
    with org.lock:
        ids = [r["Id"] for r in org.live(spec.name) if start <= r["SystemModstamp"] < end]
    if len(ids) > MAX_IDS:
        raise SfError(400, "EXCEEDED_ID_LIMIT", "too many ids; use a smaller window")
    return {"ids": ids, "latestDateCovered": format_datetime(end)}


def deleted(org: Org, spec: ObjectSpec, query: dict[str, str]) -> dict:
    start, end = _window(org, query)
    with org.lock:
        rows = [{"id": r["Id"], "deletedDate": format_datetime(r["SystemModstamp"])}
                for r in org.records[spec.name].values()
                if r["IsDeleted"] and start <= r["SystemModstamp"] < end]
    earliest = format_datetime(datetime.now(UTC) - MAX_LOOKBACK)
    return {"deletedRecords": rows, "earliestDateAvailable": earliest,
            "latestDateCovered": format_datetime(end)}
