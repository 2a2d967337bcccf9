from __future__ import annotations

from adapters.onespan_layout import FIELD_HEIGHT, FIELD_WIDTH, signature_boxes
from connector.sandbox.pdfgen import text_pdf


def _overlap(a: dict, b: dict) -> bool:
    return not (a["left"] + a["width"] <= b["left"] or b["left"] + b["width"] <= a["left"]
                or a["top"] + a["height"] <= b["top"] or b["top"] + b["height"] <= a["top"])


def test_fields_sit_on_the_last_page_inside_it_and_never_overlap():
    pdf = text_pdf([["one"], ["two"], ["three"]])
    boxes = signature_boxes(pdf, 5)
    assert {b["page"] for b in boxes} == {2}
    assert all(b["width"] == FIELD_WIDTH and b["height"] == FIELD_HEIGHT for b in boxes)
    assert all(0 <= b["top"] and b["top"] + b["height"] <= 792 and b["left"] + b["width"] <= 612 for b in boxes)
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
