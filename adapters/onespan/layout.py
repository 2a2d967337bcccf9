"""Where OneSpan signature fields go: one per signer on the document's last page, never overlapping.

A field's `top`, `left`, `width` and `height` are not PDF points. OneSpan's document engine renders each
page at 93.6 dpi and measures from the top-left corner of that image, so one PDF point is 1.3 units and
a US Letter page is 796 x 1030 (OneSpan's answers on its community forum, 2019 and 2023). A field that
reaches past the rendered page is refused (400 `error.validation.invalidPageLocation`).
"""

from __future__ import annotations

import io
import math

from pypdf import PageObject, PdfReader

UNITS_PER_POINT = 1.3  # 93.6 / 72
FIELD_WIDTH, FIELD_HEIGHT = 200, 50  # the SDK's default signature size, in OneSpan units
COLUMNS, COLUMN_GAP, ROW_GAP, MARGIN = 2, 40, 30, 60


class PageTooSmall(ValueError):
    """The last page has no room for a signature field (a crop box of almost nothing, say)."""


def rendered_size(page: PageObject) -> tuple[int, int]:
    """(width, height) of `page` as OneSpan renders it, in field units: the visible area (crop box within
    the media box), scaled by the page's user unit and turned by its rotation. Rounded down, so that a
    field placed against an edge stays inside however the engine rounds the image."""
    media, crop = page.mediabox, page.cropbox
    width = min(float(crop.right), float(media.right)) - max(float(crop.left), float(media.left))
    height = min(float(crop.top), float(media.top)) - max(float(crop.bottom), float(media.bottom))
    scale = UNITS_PER_POINT * float(page.user_unit)
    width, height = max(0.0, width) * scale, max(0.0, height) * scale
    if page.rotation % 180 == 90:
        width, height = height, width
    # The epsilon keeps 540 pt (702.0 units) from flooring to 701 through a float that lands just below.
    return math.floor(width + 1e-6), math.floor(height + 1e-6)


def last_page(content: bytes) -> tuple[int, int, int]:
    """(0-based index, width, height) of the last page, in OneSpan's field units."""
    reader = PdfReader(io.BytesIO(content))
    return len(reader.pages) - 1, *rendered_size(reader.pages[-1])


def signature_boxes(content: bytes, signers: int) -> list[dict]:
    """Boxes (page, top, left, width, height; origin top-left) filled row by row from the bottom up.
    On a page too small for the usual sizes, fields, gaps and margins shrink together until all fit."""
    page, width, height = last_page(content)
    columns = max(1, min(COLUMNS, signers, int((width - 2 * MARGIN + COLUMN_GAP) // (FIELD_WIDTH + COLUMN_GAP))))
    rows = -(-signers // columns)
    needed_width = 2 * MARGIN + columns * FIELD_WIDTH + (columns - 1) * COLUMN_GAP
    needed_height = 2 * MARGIN + rows * FIELD_HEIGHT + (rows - 1) * ROW_GAP
    scale = min(1.0, width / needed_width, height / needed_height)
    field_width, field_height = math.floor(FIELD_WIDTH * scale), math.floor(FIELD_HEIGHT * scale)
    margin, column_step, row_step = MARGIN * scale, (FIELD_WIDTH + COLUMN_GAP) * scale, (FIELD_HEIGHT + ROW_GAP) * scale
    if field_width < 1 or field_height < 1:
        raise PageTooSmall(f"the last page ({width}x{height}) is too small for {signers} signature fields")
    boxes = []
    for index in range(signers):
        row, column = divmod(index, columns)
        top = height - margin - field_height - (rows - 1 - row) * row_step
        left = margin + column * column_step
        boxes.append({"page": page, "top": math.floor(top), "left": math.floor(left), "width": field_width,
                      "height": field_height})
    return boxes
