"""Read one PDF in a child process, under a memory limit, and report what the connector needs to know.

Run as `python -m connector.documents.pdf_probe MEMORY_BYTES CPU_SECONDS` (MEMORY_BYTES: what parsing may
use on top of the interpreter and the file itself). It serves one PDF after another:
each request on stdin is a 13-byte header (kind, payload size, max pages; big-endian u8, u64, u32)
and the payload: the file itself (kind 0, small files), or the path of a file to read (kind 1: a
large document stays on disk, and pypdf reads from it only the parts it needs). Each answer on stdout
is a 4-byte length and one JSON object: {"pages": N} or {"problem": "encrypted" | "too_many_pages" |
"expands" | "damaged" | "memory", "detail": ...}. Before the first request it sends {"ready": true},
once pypdf is imported, so that its start-up is not counted against the first file's deadline. After a
"memory" answer it exits. The parent (`connector.documents.pdf_probe_pool`) kills it at its deadline and starts
another.

It is a separate process because pypdf runs in pure Python and cannot be interrupted from another
thread: a file built to hang or exhaust a reader (deep nesting, reference loops, a page tree that
fans out exponentially, a decompression bomb) could otherwise stall or kill the daemon. Here the
kernel bounds it: RLIMIT_AS for memory, RLIMIT_CPU as a backstop to the parent's timeout.
"""

from __future__ import annotations

import io
import json
import math
import os
import resource
import struct
import sys
from typing import BinaryIO

HEADER = struct.Struct(">BQI")
INLINE, PATH = 0, 1
READY = {"ready": True}


def _limit_memory_from_now(memory_bytes: int) -> None:
    """Allow `memory_bytes` of address space beyond what the process uses now (the file included)."""
    try:
        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * resource.getpagesize()
    except OSError:
        return
    _set_soft_limit(resource.RLIMIT_AS, in_use + memory_bytes)


def _limit_cpu_from_now(cpu_seconds: int) -> None:
    """The CPU limit counts the process's whole life: give each file its own allowance from here on."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + cpu_seconds
    _set_soft_limit(resource.RLIMIT_CPU, soft)


def _set_soft_limit(kind: int, soft: int | None) -> None:
    """Set (None: lift) the soft limit, keeping the hard one so that it can be raised again for the next file."""
    hard = resource.getrlimit(kind)[1]
    if soft is None or (hard != resource.RLIM_INFINITY and soft > hard):
        soft = hard
    resource.setrlimit(kind, (soft, hard))


def probe(source: bytes | BinaryIO, max_pages: int) -> dict:
    """Read the PDF in `source` (its bytes, or a binary file open for reading)."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError
    from pypdf.generic import ArrayObject, StreamObject

    try:
        reader = PdfReader(io.BytesIO(source) if isinstance(source, bytes) else source, strict=False)
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


def _read_exactly(stream, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _answer(stream, result: dict) -> None:
    answer = json.dumps(result).encode()
    stream.write(struct.pack(">I", len(answer)) + answer)
    stream.flush()


def serve(memory_bytes: int, cpu_seconds: int) -> None:
    import pypdf  # noqa: F401 - imported before any limit, so the limits are left for the files

    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    _answer(answers, READY)
    while (header := _read_exactly(requests, HEADER.size)) is not None:
        kind, size, max_pages = HEADER.unpack(header)
        payload = _read_exactly(requests, size)
        if payload is None:
            return
        _limit_cpu_from_now(cpu_seconds)
        # Back to no limit first: the soft limit may sit below the last file's peak.
        _set_soft_limit(resource.RLIMIT_AS, None)
        result = _probe_payload(kind, payload, max_pages, memory_bytes)
        del payload
        _answer(answers, result)
        if result.get("problem") == "memory":
            return  # what a failed allocation left behind is not worth keeping: the parent starts afresh


def _probe_payload(kind: int, payload: bytes, max_pages: int, memory_bytes: int) -> dict:
    try:
        if kind == PATH:
            with open(os.fsdecode(payload), "rb") as source:
                # Room for a copy of the file too: pypdf reads a damaged file whole to rebuild its index.
                _limit_memory_from_now(memory_bytes + os.fstat(source.fileno()).st_size)
                return probe(source, max_pages)
        _limit_memory_from_now(memory_bytes + len(payload))  # pypdf holds its own copy of the file
        return probe(payload, max_pages)
    except MemoryError:
        return {"problem": "memory"}
    except OSError:
        return {"problem": "damaged", "detail": "the file could not be opened"}


def main() -> None:
    memory_bytes, cpu_seconds = (int(v) for v in sys.argv[1:3])
    serve(memory_bytes, cpu_seconds)


if __name__ == "__main__":
    main()
