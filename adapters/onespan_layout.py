"""Where OneSpan signature fields go: one per signer on the document's last page, never overlapping."""

from __future__ import annotations

import io

from pypdf import PdfReader

FIELD_WIDTH, FIELD_HEIGHT = 200, 50
COLUMNS, COLUMN_GAP, ROW_GAP, MARGIN = 2, 40, 30, 60


def last_page(content: bytes) -> tuple[int, float, float]:
    """(0-based index, width, height) of the last page, in PDF points."""
    reader = PdfReader(io.BytesIO(content))
    page = reader.pages[-1]
    return len(reader.pages) - 1, float(page.mediabox.width), float(page.mediabox.height)


def signature_boxes(content: bytes, signers: int) -> list[dict]:
    """Boxes (page, top, left, width, height; origin top-left) filled row by row from the bottom up."""
    page, width, height = last_page(content)
    columns = max(1, min(COLUMNS, int((width - 2 * MARGIN + COLUMN_GAP) // (FIELD_WIDTH + COLUMN_GAP))))
    rows = -(-signers // columns)
    boxes = []
    for index in range(signers):
        row, column = divmod(index, columns)
        top = height - MARGIN - (rows - row) * (FIELD_HEIGHT + ROW_GAP) + ROW_GAP
        left = MARGIN + column * (FIELD_WIDTH + COLUMN_GAP)
        boxes.append({"page": page, "top": max(0, round(top)), "left": round(left), "width": FIELD_WIDTH,
                      "height": FIELD_HEIGHT})
    return boxes
