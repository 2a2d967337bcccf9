"""Query result paging: query locators, `batchSize`, and paged child subqueries.

A query's rows are a snapshot taken when it runs; later pages come from that snapshot through
`nextRecordsUrl`, a path of the form /services/data/vXX.X/query/<locator>-<row>.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sandbox.salesforce_sim.errors import SfError
from sandbox.salesforce_sim.ids import IdFactory

BATCH_DEFAULT, BATCH_MIN, BATCH_MAX = 2000, 200, 2000
CHILD_BATCH = 200  # child rows returned inline before a child set gets its own nextRecordsUrl
MAX_OPEN_QUERIES = 10  # per user; opening another releases the oldest, as Salesforce does
MAX_OPEN_CHILD_SETS = 500
CURSOR_IDLE_SECONDS = 15 * 60


@dataclass
class _Cursor:
    rows: list[dict]
    batch_size: int
    last_used: float


def batch_size(query_options: str | None) -> int:
    """The page size asked for in `Sforce-Query-Options: batchSize=N`, kept within 200..2000."""
    match = re.search(r"batchSize\s*=\s*(\d+)", query_options or "")
    return min(max(int(match.group(1)), BATCH_MIN), BATCH_MAX) if match else BATCH_DEFAULT


def _inline_children(row: dict) -> int:
    """Child rows count toward the batch size, as they do in Salesforce."""
    return sum(len(value["records"]) for value in row.values()
               if isinstance(value, dict) and isinstance(value.get("records"), list))


class Cursors:
    def __init__(self, api_version: str, ids: IdFactory):
        self.api_version = api_version
        self._ids = ids
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, _Cursor] = OrderedDict()
        self._child_sets: OrderedDict[str, _Cursor] = OrderedDict()

    def _url(self, locator: str, row: int) -> str:
        return f"/services/data/v{self.api_version}/query/{locator}-{row}"

    def _open(self, table: OrderedDict[str, _Cursor], limit: int, rows: list[dict], size: int) -> str:
        locator = self._ids.new("01g")
        with self._lock:
            table[locator] = _Cursor(rows, size, time.monotonic())
            while len(table) > limit:
                table.popitem(last=False)
        return locator

    def child_result(self, rows: list[dict]) -> dict | None:
        """The value of a child relationship field: null when empty, paged beyond CHILD_BATCH rows."""
        if not rows:
            return None
        if len(rows) <= CHILD_BATCH:
            return {"totalSize": len(rows), "done": True, "records": rows}
        locator = self._open(self._child_sets, MAX_OPEN_CHILD_SETS, rows, BATCH_DEFAULT)
        return {"totalSize": len(rows), "done": False, "nextRecordsUrl": self._url(locator, CHILD_BATCH),
                "records": rows[:CHILD_BATCH]}

    def first_page(self, rows: list[dict], size: int) -> dict:
        cursor = _Cursor(rows, size, time.monotonic())
        end = self._page_end(cursor, 0)
        locator = self._open(self._queries, MAX_OPEN_QUERIES, rows, size) if end < len(rows) else ""
        return self._page(cursor, 0, end, locator)

    def next_page(self, segment: str) -> dict:
        locator, _, row = segment.rpartition("-")
        with self._lock:
            table = self._queries if locator in self._queries else self._child_sets
            cursor = table.get(locator)
            idle = time.monotonic() - cursor.last_used if cursor else 0.0
            if cursor is None or not row.isdigit() or idle > CURSOR_IDLE_SECONDS:
                table.pop(locator, None)
                raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            cursor.last_used = time.monotonic()
        start = int(row)
        end = self._page_end(cursor, start)
        if end >= len(cursor.rows):  # read to the end: the cursor is released
            with self._lock:
                table.pop(locator, None)
        return self._page(cursor, start, end, locator)

    @staticmethod
    def _page_end(cursor: _Cursor, start: int) -> int:
        end, cost = start, 0
        while end < len(cursor.rows):
            row_cost = 1 + _inline_children(cursor.rows[end])
            if end > start and cost + row_cost > cursor.batch_size:
                break
            cost += row_cost
            end += 1
        return end

    def _page(self, cursor: _Cursor, start: int, end: int, locator: str) -> dict:
        page: dict = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
        if not page["done"]:
            page["nextRecordsUrl"] = self._url(locator, end)
        page["records"] = cursor.rows[start:end]
        return page
