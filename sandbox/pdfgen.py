"""Tiny PDF writer for the sandbox: demo contracts, signed copies and evidence reports.

It writes real, parseable PDFs (checked with pypdf in the tests) with lines of Helvetica text,
so the sandbox needs no PDF toolkit beyond the project's own dependencies. A line wider than the
page between its margins is wrapped at spaces (a word wider than that alone, such as a long id, is cut
where it must be), and lines beyond the bottom margin go on to a further page.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator, Sequence

from pypdf import PdfReader, PdfWriter

_PAGE_WIDTH, _PAGE_HEIGHT = 612, 792
_MARGIN, _FONT_SIZE, _LEADING = 72, 12, 14
_TEXT_WIDTH = _PAGE_WIDTH - 2 * _MARGIN
_LINES_PER_PAGE = (_PAGE_HEIGHT - 2 * _MARGIN) // _LEADING + 1
# Helvetica's advance widths (Adobe's core-font metrics, 1/1000 of the font size) for ' ' to '~'; other
# characters are measured as their unaccented letter (é as e), else as 556 (a digit).
_ASCII_WIDTHS = dict(zip(map(chr, range(32, 127)), (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584), strict=True))


def _char_width(char: str) -> float:
    width = _ASCII_WIDTHS.get(char) or _ASCII_WIDTHS.get(unicodedata.normalize("NFD", char)[:1], 556)
    return width * _FONT_SIZE / 1000


def text_width(text: str) -> float:
    """How wide `text` is in points, in the pages' 12 pt Helvetica."""
    return sum(_char_width(char) for char in text)


def _cut(word: str, width: float) -> Iterator[str]:
    """A word wider than `width`, in pieces that fit."""
    piece = ""
    for char in word:
        if piece and text_width(piece + char) > width:
            yield piece
            piece = ""
        piece += char
    yield piece


def wrap(line: str, width: float = _TEXT_WIDTH) -> list[str]:
    """`line` as lines no wider than `width` points, broken at spaces where it can be."""
    if text_width(line) <= width:
        return [line]
    lines: list[str] = []
    current = ""
    for word in line.split(" "):
        candidate = f"{current} {word}" if current else word
        if text_width(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        *whole, current = _cut(word, width)
        lines.extend(whole)
    lines.append(current)
    return lines


def _laid_out(pages: Sequence[Sequence[str]]) -> list[list[str]]:
    """Each page's lines wrapped to the text width; a page too long for one sheet goes on to the next."""
    sheets = []
    for lines in pages:
        wrapped = [part for line in lines for part in wrap(line)]
        sheets.extend(wrapped[i:i + _LINES_PER_PAGE] for i in range(0, len(wrapped), _LINES_PER_PAGE))
        if not wrapped:
            sheets.append([])
    return sheets


def _escape(text: str) -> str:
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content_stream(lines: Sequence[str]) -> bytes:
    parts = ["BT", f"/F1 {_FONT_SIZE} Tf", f"{_LEADING} TL", f"{_MARGIN} {_PAGE_HEIGHT - _MARGIN} Td"]
    for line in lines:
        parts.append(f"({_escape(line)}) Tj T*")
    parts.append("ET")
    return "\n".join(parts).encode("latin-1")


def text_pdf(pages: Sequence[Sequence[str]], *, title: str = "") -> bytes:
    """A PDF with a page per entry of `pages`, each a list of text lines (wrapped to the page width; an entry
    with more lines than a page holds takes as many pages as it needs)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # pages tree, filled below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for lines in _laid_out(pages):
        stream = _content_stream(lines)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_ref = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (_PAGE_WIDTH, _PAGE_HEIGHT, content_ref)
        )
        kids.append(len(objects))
    kid_refs = " ".join(f"{k} 0 R" for k in kids).encode()
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kid_refs, len(kids))
    if title:
        objects.append(b"<< /Title (%s) /Producer (connector sandbox) >>" % _escape(title).encode("latin-1"))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref_at = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    info = b" /Info %d 0 R" % len(objects) if title else b""
    out.write(b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref_at))
    return out.getvalue()


def append_pages(original: bytes, pages: Sequence[Sequence[str]]) -> bytes:
    """`original` with text pages appended, e.g. a signature page on a signed copy."""
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(original)))
    writer.append(PdfReader(io.BytesIO(text_pdf(pages))))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(pages: Sequence[Sequence[str]], password: str) -> bytes:
    """A password-protected PDF, for tests of the refusal path."""
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(text_pdf(pages))))
    writer.encrypt(user_password=password, owner_password=password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
