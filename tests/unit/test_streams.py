"""Blobs (documents in memory or in a temporary file) and the request bodies streamed from them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile

import pytest
import requests
import responses

from connector.ports.blobs import Base64, Blob, BlobTooLarge, BlobWriter, StreamedBody, json_body

CONTENT = bytes(range(256)) * 50  # 12,800 bytes


def on_disk(content: bytes = CONTENT) -> Blob:
    return BlobWriter(spool_bytes=0).write_all([content[:1000], content[1000:]])


def test_a_small_download_stays_in_memory_and_a_large_one_goes_to_a_file():
    small = BlobWriter(spool_bytes=len(CONTENT)).write_all([CONTENT])
    large = BlobWriter(spool_bytes=len(CONTENT) - 1).write_all([CONTENT[:10], CONTENT[10:]])
    assert small.path is None and large.path is not None and os.path.exists(large.path)
    assert small.read_bytes() == large.read_bytes() == CONTENT
    assert small == large and hash(small) == hash(large)
    assert (large.size, len(large), large.head(4)) == (len(CONTENT), len(CONTENT), CONTENT[:4])
    assert b"".join(large.chunks(999)) == CONTENT


def test_the_temporary_file_goes_with_the_blob():
    blob = on_disk()
    path = blob.path
    blob.close()
    assert not os.path.exists(path)
    path = on_disk().path  # collected at once: nothing holds it
    assert not os.path.exists(path)


def test_digests_are_the_contents():
    for blob in (Blob(CONTENT), on_disk()):
        assert blob.sha256 == hashlib.sha256(CONTENT).hexdigest()
        assert blob.md5 == hashlib.md5(CONTENT).hexdigest()  # noqa: S324 - Salesforce's checksum


def test_a_download_past_its_limit_is_stopped_and_its_file_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    writer = BlobWriter(max_bytes=100, spool_bytes=10)
    with pytest.raises(BlobTooLarge, match="larger than 100 bytes"):
        writer.write_all([b"x" * 60, b"x" * 60])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("needle_at", [0, 1024 * 1024 - 3, 1024 * 1024, 2 * 1024 * 1024 - 10])
def test_contains_finds_a_value_across_chunk_borders(needle_at):
    content = bytearray(b"." * (2 * 1024 * 1024))
    content[needle_at:needle_at + 10] = b"NEEDLE-123"
    blob = on_disk(bytes(content))
    assert blob.contains(b"NEEDLE-123") and not blob.contains(b"NEEDLE-124")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 3 * 256 * 1024, 3 * 256 * 1024 + 1, 1024 * 1024 + 5])
def test_base64_in_pieces_is_the_base64_of_the_whole(size):
    content = os.urandom(size)
    part = Base64(on_disk(content))
    assert b"".join(part.chunks()) == base64.b64encode(content)
    assert len(part) == len(base64.b64encode(content))


def test_a_json_body_is_the_bytes_json_dumps_gives_and_can_be_sent_again():
    payload = {"name": "Quote \u00e9.pdf", "file": None, "signers": [{"email": "a@b.c"}]}
    body = json_body(payload, "file", on_disk())
    expected = json.dumps({**payload, "file": base64.b64encode(CONTENT).decode()}).encode()
    assert b"".join(body) == expected and len(body) == len(expected)
    assert b"".join(body) == expected  # iterated afresh


@responses.activate
def test_requests_sends_a_streamed_body_with_its_content_length():
    seen = []

    def answer(request):
        seen.append((b"".join(request.body), request.headers.get("Content-Length"),
                     request.headers.get("Transfer-Encoding")))
        return 201, {}, "{}"

    responses.add_callback(responses.POST, "https://api.example/upload", callback=answer)
    body = StreamedBody([b"head:", on_disk(), b":tail"])
    requests.post("https://api.example/upload", data=body, timeout=5)
    assert seen == [(b"head:" + CONTENT + b":tail", str(len(CONTENT) + 10), None)]
