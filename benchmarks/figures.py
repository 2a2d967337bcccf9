"""Figures, their targets, and the table and JSON they end up in."""

from __future__ import annotations

import json
import math
import operator
from dataclasses import asdict, dataclass
from pathlib import Path

_COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, "==": operator.eq}


@dataclass
class Figure:
    benchmark: str
    name: str
    value: float | None
    unit: str
    target: float | None = None
    compare: str = "<="  # value <compare> target meets the target
    size: str = ""  # the size measured, and whether it is scaled down from the issue's
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return _COMPARE[self.compare](self.value, self.target)

    def as_json(self) -> dict:
        return {**asdict(self), "met": self.met}


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (`share` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    if value == int(value) and abs(value) >= 10:
        return f"{int(value)}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def table(figures: list[Figure]) -> str:
    header = ("benchmark", "figure", "value", "target", "met", "size", "note")
    rows = [header]
    for f in figures:
        target = f"{f.compare} {_cell(f.target)} {f.unit}".strip() if f.target is not None else ""
        met = {True: "yes", False: "NO", None: ""}[f.met]
        rows.append((f.benchmark, f.name, f"{_cell(f.value)} {f.unit}".strip(), target, met, f.size, f.note))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ----")
    return "\n".join(lines)


def write_json(path: Path, figures: list[Figure], meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**meta, "figures": [f.as_json() for f in figures]}, indent=2) + "\n")
