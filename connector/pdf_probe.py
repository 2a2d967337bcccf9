"""Read one PDF in a child process, under a memory limit, and report what the connector needs to know.

Run as `python -m connector.pdf_probe MAX_PAGES MEMORY_BYTES CPU_SECONDS` with the PDF on stdin
(MEMORY_BYTES: what parsing may use on top of the interpreter and the file itself); it
prints one JSON object: {"pages": N} or {"problem": "encrypted" | "too_many_pages" | "expands" |
"damaged" | "memory", "detail": ...}. The parent (`connector.documents`) kills it at its deadline.

It is a separate process because pypdf runs in pure Python and cannot be interrupted from another
thread: a file built to hang or exhaust a reader (deep nesting, reference loops, a page tree that
fans out exponentially, a decompression bomb) could otherwise stall or kill the daemon. Here the
kernel bounds it: RLIMIT_AS for memory, RLIMIT_CPU as a backstop to the parent's timeout.
"""

from __future__ import annotations

import io
import json
import resource
import sys


def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    """Allow `memory_bytes` of address space beyond what the interpreter, pypdf and the file already use."""
    try:
        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:
        in_use = 0
    resource.setrlimit(resource.RLIMIT_AS, (in_use + memory_bytes, in_use + memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def probe(content: bytes, max_pages: int) -> dict:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError
    from pypdf.generic import ArrayObject, StreamObject

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            return {"problem": "encrypted"}
        pages = len(reader.pages)  # the page tree's declared /Count: checked before the tree is walked
        if pages > max_pages:
            return {"problem": "too_many_pages", "detail": pages}
        walked = 0
        for page in reader.pages:
            walked += 1
            if walked > max_pages:
                return {"problem": "too_many_pages", "detail": f"more than {max_pages}"}
            page.mediabox  # noqa: B018 - each page must have a readable size
            contents = page.get("/Contents")
            contents = contents.get_object() if contents is not None else None
            streams = contents if isinstance(contents, ArrayObject) else [contents]
            for stream in streams:
                stream = stream.get_object() if stream is not None else None
                if isinstance(stream, StreamObject):
                    stream.get_data()  # decoded under pypdf's own output limits: a bomb raises here
        return {"pages": walked}
    except LimitReachedError as exc:
        return {"problem": "expands", "detail": str(exc)[:200]}
    except MemoryError:
        return {"problem": "memory"}
    except RecursionError:
        return {"problem": "damaged", "detail": "nested too deeply"}
    except Exception as exc:  # noqa: BLE001 - whatever a hostile file makes pypdf raise, the file is unreadable
        return {"problem": "damaged", "detail": type(exc).__name__}


def main() -> None:
    max_pages, memory_bytes, cpu_seconds = (int(v) for v in sys.argv[1:4])
    content = sys.stdin.buffer.read()
    import pypdf  # noqa: F401 - imported before the limit, so the limit is left for the file

    _limit(memory_bytes, cpu_seconds)
    try:
        result = probe(content, max_pages)
    except MemoryError:
        result = {"problem": "memory"}
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()
