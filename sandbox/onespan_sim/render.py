"""How OneSpan's document engine sees a PDF page, and where a field on it lands in the PDF.

The engine renders each page at 93.6 dpi: 1.3 units per PDF point, so US Letter is 796 x 1030. A field's
`top`, `left`, `width` and `height` are in those units, from the top-left corner of the rendered page
(OneSpan's answers on its community forum, 2019 and 2023). What is rendered is the part of the media box
the crop box shows, at the page's user unit, turned by the page's rotation.
"""

from __future__ import annotations

from pypdf import PageObject

UNITS_PER_POINT = 1.3


def _visible(page: PageObject) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of the shown area, in the page's user space."""
    media, crop = page.mediabox, page.cropbox
    left, bottom = max(float(media.left), float(crop.left)), max(float(media.bottom), float(crop.bottom))
    return left, bottom, max(left, min(float(media.right), float(crop.right))), \
        max(bottom, min(float(media.top), float(crop.top)))


def _scale(page: PageObject) -> float:
    return UNITS_PER_POINT * float(page.user_unit)


def rendered_size(page: PageObject) -> tuple[int, int]:
    """(width, height) of the rendered page in field units, rounded as the engine's image is."""
    left, bottom, right, top = _visible(page)
    width, height = round((right - left) * _scale(page)), round((top - bottom) * _scale(page))
    return (height, width) if page.rotation % 180 == 90 else (width, height)


def field_rect(page: PageObject, field: dict) -> tuple[float, float, float, float]:
    """The field's box as (x0, y0, x1, y1) in the page's PDF user space, where a signature is drawn."""
    left, bottom, right, top = _visible(page)
    scale = _scale(page)

    def point(u: float, v: float) -> tuple[float, float]:  # u rightwards, v downwards on the rendered page
        u, v = u / scale, v / scale
        return {0: (left + u, top - v), 90: (left + v, bottom + u), 180: (right - u, bottom + v),
                270: (right - v, top - u)}.get(page.rotation % 360, (left + u, top - v))

    corners = [point(field["left"], field["top"]),
               point(field["left"] + field["width"], field["top"] + field["height"])]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return min(xs), min(ys), max(xs), max(ys)
