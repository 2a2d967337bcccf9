"""Documents that may be too big to hold in memory, and request bodies sent from them in pieces.

A `Blob` is the bytes of one document: kept in memory while small, in a temporary file (deleted with
the blob) once past the spool size. A 100 MB PDF then costs the daemon a file on disk instead of
several copies in memory: downloads are written chunk by chunk (`BlobWriter`), and uploads read the
file chunk by chunk (`StreamedBody`), with their length known up front so they go with a
Content-Length, as the APIs expect, not chunked.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

CHUNK = 1024 * 1024
# Raw bytes per base64 piece: a multiple of 3, so that the pieces' encodings join into the whole's.
_BASE64_CHUNK = 3 * 256 * 1024
DEFAULT_SPOOL_BYTES = 1024 * 1024


class BlobTooLarge(Exception):
    """More bytes arrived than the writer's `max_bytes` allows."""

    def __init__(self, max_bytes: int):
        super().__init__(f"larger than {max_bytes:,} bytes")
        self.max_bytes = max_bytes


class Blob:
    """Immutable bytes, in memory or in a temporary file. Compare and hash by content."""

    def __init__(self, data: bytes = b"", *, _file: tempfile._TemporaryFileWrapper | None = None,
                 _size: int | None = None):
        self._data = bytes(data) if _file is None else b""  # empty when the bytes are in the file
        self._file = _file
        self._size = len(data) if _file is None else int(_size or 0)
        self._digests: dict[str, str] = {}

    @staticmethod
    def of(content: bytes | bytearray | memoryview | Blob) -> Blob:
        return content if isinstance(content, Blob) else Blob(bytes(content))

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return self._size

    @property
    def path(self) -> str | None:
        """The file holding the bytes, for another process to read; None while they are in memory."""
        return self._file.name if self._file is not None else None

    def open(self) -> BinaryIO:
        """A reader of its own, positioned at the start."""
        if self._file is None:
            return io.BytesIO(self._data)  # shares the bytes: no copy
        return open(self._file.name, "rb")  # noqa: SIM115 - the caller closes it

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        if self._file is None:
            view = memoryview(self._data)
            for start in range(0, self._size, size):
                yield bytes(view[start:start + size])
            return
        with self.open() as reader:
            while chunk := _read_fully(reader, size):
                yield chunk

    def read_bytes(self) -> bytes:
        """The whole content in memory: for small documents, and for APIs that take nothing else."""
        if self._file is None:
            return self._data
        with self.open() as reader:
            return reader.read()

    def head(self, count: int) -> bytes:
        with self.open() as reader:
            return reader.read(count)

    def contains(self, needle: bytes) -> bool:
        """Whether `needle` occurs anywhere, read chunk by chunk."""
        if self._file is None:
            return needle in self._data
        keep, tail = len(needle) - 1, b""
        for chunk in self.chunks():
            window = tail + chunk
            if needle in window:
                return True
            tail = window[len(window) - keep:] if keep else b""
        return False

    def _digest(self, name: str) -> str:
        if name not in self._digests:
            if self._file is None:
                self._digests[name] = hashlib.new(name, self._data).hexdigest()
            else:
                hasher = hashlib.new(name)
                for chunk in self.chunks():
                    hasher.update(chunk)
                self._digests[name] = hasher.hexdigest()
        return self._digests[name]

    @property
    def sha256(self) -> str:
        return self._digest("sha256")

    @property
    def md5(self) -> str:
        return self._digest("md5")

    def close(self) -> None:
        """Delete the temporary file now rather than when the blob is collected."""
        if self._file is not None:
            self._file.close()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Blob):
            return NotImplemented
        if self is other:
            return True
        if self._size != other._size:
            return False
        if self._file is None and other._file is None:
            return self._data == other._data
        return self.sha256 == other.sha256

    def __hash__(self) -> int:
        return hash((self._size, self.sha256))

    def __repr__(self) -> str:
        where = "file" if self._file is not None else "memory"
        return f"Blob({self._size:,} bytes in {where})"


class BlobWriter:
    """Collects bytes chunk by chunk: in memory up to `spool_bytes`, then in a temporary file.

    `max_bytes` stops a download that runs past it (`BlobTooLarge`) before it fills the disk."""

    def __init__(self, *, max_bytes: int | None = None, spool_bytes: int = DEFAULT_SPOOL_BYTES):
        self.max_bytes = max_bytes
        self.spool_bytes = spool_bytes
        self.size = 0
        self._buffer: bytearray | None = bytearray()
        self._file: tempfile._TemporaryFileWrapper | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.discard()
            raise BlobTooLarge(self.max_bytes)
        if self._file is not None:
            self._file.write(chunk)
            return
        assert self._buffer is not None
        self._buffer += chunk
        if len(self._buffer) > self.spool_bytes:
            self._file = tempfile.NamedTemporaryFile(prefix="connector-", suffix=".blob")  # noqa: SIM115
            self._file.write(self._buffer)
            self._buffer = None

    def write_all(self, chunks: Iterable[bytes]) -> Blob:
        try:
            for chunk in chunks:
                if chunk:
                    self.write(chunk)
        except BaseException:
            self.discard()
            raise
        return self.finish()

    def finish(self) -> Blob:
        if self._file is None:
            data, self._buffer = bytes(self._buffer or b""), None
            return Blob(data)
        self._file.flush()
        blob, self._file = Blob(_file=self._file, _size=self.size), None
        return blob

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buffer = None


class Base64:
    """A part of a `StreamedBody`: the blob's bytes, base64-encoded."""

    def __init__(self, blob: Blob):
        self.blob = blob

    def __len__(self) -> int:
        return 4 * ((self.blob.size + 2) // 3)

    def chunks(self) -> Iterator[bytes]:
        for chunk in self.blob.chunks(_BASE64_CHUNK):
            yield base64.b64encode(chunk)


Part = bytes | Blob | Base64


class StreamedBody:
    """A request body of several parts, produced piece by piece each time it is iterated.

    `requests` sends an iterable with a length as a stream with a Content-Length header, and the body
    can be sent again (a retry iterates it afresh). Compare it as bytes with `b"".join(body)`."""

    def __init__(self, parts: Sequence[Part]):
        self.parts = tuple(parts)

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            if isinstance(part, bytes):
                if part:
                    yield part
            else:
                yield from part.chunks()


def json_body(payload: dict, blob_key: str, blob: Blob) -> StreamedBody:
    """`payload` as `requests`' json= would send it (json.dumps, UTF-8), with the base64 of `blob` as the
    string value of `blob_key` (in the key's place in `payload` if it is there, else last), streamed."""
    marker = f"blob-{uuid.uuid4().hex}"
    text = json.dumps({**payload, blob_key: marker}, allow_nan=False)
    before, found, after = text.partition(f'"{marker}"')
    if not found or f'"{marker}"' in after:
        raise ValueError("the blob marker must occur exactly once")
    return StreamedBody([f'{before}"'.encode(), Base64(blob), f'"{after}'.encode()])


def _read_fully(reader: BinaryIO, size: int) -> bytes:
    """`size` bytes, fewer only at the end (a raw file may return short reads)."""
    data = reader.read(size)
    if not data or len(data) == size:
        return data
    parts, got = [data], len(data)
    while got < size and (more := reader.read(size - got)):
        parts.append(more)
        got += len(more)
    return b"".join(parts)
