from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter
from pypdf.generic import FloatObject, NameObject, RectangleObject

from adapters.onespan.layout import FIELD_HEIGHT, FIELD_WIDTH, MARGIN, PageTooSmall, last_page, signature_boxes
from sandbox.pdfgen import text_pdf


def _pdf(*pages: tuple[float, float], rotate: int = 0, crop: tuple[float, float, float, float] | None = None,
         user_unit: float | None = None) -> bytes:
    """Blank pages of these sizes in points; the last one rotated, cropped or scaled as asked."""
    writer = PdfWriter()
    for width, height in pages:
        writer.add_blank_page(width, height)
    last = writer.pages[-1]
    if rotate:
        last.rotate(rotate)
    if crop:
        last.cropbox = RectangleObject(crop)
    if user_unit:
        last[NameObject("/UserUnit")] = FloatObject(user_unit)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _overlap(a: dict, b: dict) -> bool:
    return not (a["left"] + a["width"] <= b["left"] or b["left"] + b["width"] <= a["left"]
                or a["top"] + a["height"] <= b["top"] or b["top"] + b["height"] <= a["top"])


def _inside(box: dict, width: int, height: int) -> bool:
    return box["top"] >= 0 and box["left"] >= 0 and box["left"] + box["width"] <= width \
        and box["top"] + box["height"] <= height


@pytest.mark.parametrize(("pdf", "size"), [
    (text_pdf([["letter"]]), (795, 1029)),  # 8.5 x 11 in at 93.6 dpi: 795.6 x 1029.6, OneSpan's 796 x 1030
    (_pdf((595.28, 841.89)), (773, 1094)),  # A4
    (_pdf((612, 792), rotate=90), (1029, 795)),  # a portrait page turned: OneSpan renders it landscape
    (_pdf((612, 792), rotate=270), (1029, 795)),
    (_pdf((612, 792), rotate=180), (795, 1029)),
    (_pdf((612, 1008), crop=(36, 36, 576, 756)), (702, 936)),  # only the crop box is shown
    (_pdf((612, 792), crop=(-100, -100, 700, 900)), (795, 1029)),  # ...and never more than the media box
    (_pdf((306, 396), user_unit=2), (795, 1029)),
])
def test_the_page_is_measured_in_onespan_units(pdf, size):
    assert last_page(pdf)[1:] == size


def test_on_a_letter_page_the_fields_sit_at_the_bottom_of_the_rendered_page():
    pdf = text_pdf([["one"], ["two"], ["three"]])
    boxes = signature_boxes(pdf, 5)
    assert {b["page"] for b in boxes} == {2}
    assert all(b["width"] == FIELD_WIDTH and b["height"] == FIELD_HEIGHT for b in boxes)
    # The lowest row ends a margin above the bottom of the 1030-unit page, not of a 792-point one.
    assert max(b["top"] + b["height"] for b in boxes) == 1029 - MARGIN
    assert all(_inside(b, 795, 1029) for b in boxes)
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


@pytest.mark.parametrize("pdf", [
    _pdf((595.28, 841.89)), _pdf((841.89, 595.28)), _pdf((612, 792), rotate=90),
    _pdf((612, 1008), crop=(36, 36, 576, 756)), _pdf((297.64, 419.53)),  # A6
    _pdf((144, 300)), _pdf((612, 120)), _pdf((100, 100), rotate=90),  # a receipt, a strip, a stamp
])
@pytest.mark.parametrize("signers", [1, 2, 3, 7, 12])
def test_fields_fit_any_page_and_never_overlap(pdf, signers):
    _, width, height = last_page(pdf)
    boxes = signature_boxes(pdf, signers)
    assert len(boxes) == signers
    assert all(_inside(b, width, height) and b["width"] >= 1 and b["height"] >= 1 for b in boxes)
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_a_page_with_no_room_is_refused_as_too_small():
    with pytest.raises(PageTooSmall):
        signature_boxes(_pdf((612, 792), crop=(0, 0, 0.5, 0.5)), 2)
