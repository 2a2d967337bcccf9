"""PDFs built to hurt a reader, written byte by byte (no PDF library would write them)."""

from __future__ import annotations

import random
import zlib


def assemble(objects: list[bytes], *, trailer_extra: bytes = b"", prev_loop: bool = False) -> bytes:
    """Objects are numbered from 1 in order; object 1 is the catalog."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    prev = b" /Prev %d" % xref if prev_loop else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, prev, trailer_extra, xref)
    return bytes(out)


def _page(extra: bytes = b"", contents: int | None = None) -> bytes:
    stream = b" /Contents %d 0 R" % contents if contents else b""
    return b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]%s%s >>" % (stream, extra)


def deep_nesting(depth: int = 200_000) -> bytes:
    nested = b"[" * depth + b"]" * depth
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     _page(b" /Nested " + nested)])


def page_tree_loop() -> bytes:
    """The page tree lists itself among its own kids."""
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                     _page()])


def xref_loop() -> bytes:
    """The cross-reference section names itself as the previous one."""
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", _page()],
                    prev_loop=True)


def decompression_bomb(expanded: int = 200 * 1024 * 1024) -> bytes:
    """A page whose content stream is a few hundred KB and inflates to `expanded` bytes."""
    compressor = zlib.compressobj(9)
    chunk = b"\0" * (1024 * 1024)
    data = b"".join(compressor.compress(chunk) for _ in range(expanded // len(chunk))) + compressor.flush()
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     _page(contents=4), stream])


def exponential_page_tree(levels: int = 60) -> bytes:
    """`levels` page-tree nodes, each listing the next one twice: 2**levels pages from a 3 KB file,
    under a modest declared /Count."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(levels):
        node = 2 + level
        objects.append(b"<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 2 >>" % (node + 1, node + 1))
    objects.append(_page())
    return assemble(objects)


def declared_page_count(count: int) -> bytes:
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count,
                     _page()])


def many_pages(count: int) -> bytes:
    kids = b" ".join(b"%d 0 R" % (3 + n) for n in range(count))
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
                     *(_page() for _ in range(count))])


def garbage(size: int = 20_000, seed: int = 7) -> bytes:
    return b"%PDF-1.7\n" + random.Random(seed).randbytes(size)


def truncated(pdf: bytes) -> bytes:
    return pdf[: len(pdf) // 2]
