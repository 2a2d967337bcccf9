"""Choosing the opportunity's files for a rule, and accepting only real, readable PDFs."""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass

from connector.documents.pdf_probe_pool import ProbeLimits, probe_pdf
from connector.ports.crm import FileRef, Opportunity
from connector.ports.errors import PreparationError
from connector.ports.provider import Blob

log = logging.getLogger(__name__)
OUTPUT_SUFFIXES = (" - signed", " - evidence")
RECEIPT_SUFFIX = " - receipt"  # the connector's signing receipt (connector.receipts), never a document to send


@dataclass(frozen=True)
class PdfLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_pages: int = 2000
    parse_seconds: float = 20.0  # wall-clock time to parse one PDF
    parse_memory_mb: int = 512  # memory parsing one PDF may take, beyond the file itself

    @classmethod
    def from_settings(cls, settings) -> PdfLimits:
        return cls(max_bytes=settings.max_document_bytes, max_pages=settings.max_document_pages,
                   parse_seconds=settings.max_document_parse_seconds,
                   parse_memory_mb=settings.max_document_parse_memory_mb)


def select_files(opportunity: Opportunity, title_pattern: str, select: str) -> list[FileRef]:
    """Files whose title matches, newest version first; `select` is 'newest' or 'all'."""
    pattern = title_pattern.lower()
    # Never send back what the connector attached itself (a signed copy or an evidence report).
    candidates = [f for f in opportunity.files if not f.title.endswith((*OUTPUT_SUFFIXES, RECEIPT_SUFFIX))]
    matches = [f for f in candidates if fnmatch.fnmatchcase(f.title.lower(), pattern)]
    if not matches:
        titles = ", ".join(repr(f.title) for f in opportunity.files) or "none"
        raise PreparationError(
            f"No file on opportunity {opportunity.name} ({opportunity.id}) matches the title pattern "
            f"{title_pattern!r} (files attached: {titles}). Attach the PDF to the opportunity, or change "
            f"documents.title_pattern in the mapping."
        )
    # Salesforce Ids grow with time: the highest version Id is the newest upload. "all" keeps the order in
    # which the files were attached, so the first document (whose title the evidence report takes) stays first.
    matches.sort(key=lambda f: f.version_id)
    return matches[-1:] if select == "newest" else matches


def check_size(file: FileRef, size: int, limits: PdfLimits, opportunity: Opportunity | None = None) -> None:
    """Raise PreparationError if `size` bytes is over the limit (also before a download, from the listed size)."""
    if size > limits.max_bytes:
        raise PreparationError(
            f"{_where(file, opportunity)} is {size:,} bytes, over the {limits.max_bytes:,}-byte limit. "
            "Attach a smaller PDF."
        )


def _where(file: FileRef, opportunity: Opportunity | None) -> str:
    where = f"File {file.title!r} ({file.version_id})"
    if opportunity is not None:
        where += f" on opportunity {opportunity.name} ({opportunity.id})"
    return where


def check_pdf(file: FileRef, content: bytes | Blob, limits: PdfLimits, opportunity: Opportunity | None = None) -> int:
    """Raise PreparationError unless `content` is a readable, unencrypted PDF within `limits`; return its pages.

    The file is parsed in a child process (`connector.documents.pdf_probe_pool`) with a deadline and a memory limit,
    so a PDF built to hang or exhaust a reader costs at most that and yields a located error. A large
    document stays in its temporary file: the child reads it from there.
    """
    content = Blob.of(content)
    where = _where(file, opportunity)
    check_size(file, content.size, limits, opportunity)
    if not content.head(1024).lstrip()[:5].startswith(b"%PDF-"):
        raise PreparationError(
            f"{where} is not a PDF (extension {file.extension or 'none'}). Save it as PDF and attach it again."
        )
    result = _probe(content, limits)
    problem = result.get("problem")
    if problem is not None:
        log.info("PDF %s refused: %s (%s)", file.version_id, problem, result.get("detail", ""))
        raise PreparationError(_explain(where, problem, limits, result.get("detail")))
    pages = int(result["pages"])
    if pages == 0:
        raise PreparationError(f"{where} has no pages. Attach the complete PDF.")
    return pages


_REEXPORT = "Export it to PDF again (or print it to PDF) and attach the new file."


def _explain(where: str, problem: str, limits: PdfLimits, detail: object) -> str:
    if problem == "encrypted":
        return f"{where} is password-protected. Attach a copy without a password so it can be signed."
    if problem == "too_many_pages":
        return f"{where} has {detail} pages, over the {limits.max_pages}-page limit."
    if problem == "timeout":
        return (f"{where} could not be read within {limits.parse_seconds:g} seconds: its structure is built to "
                f"exhaust PDF readers (deep nesting, reference loops or a huge page tree). {_REEXPORT}")
    if problem == "expands":
        return (f"{where} goes past the PDF reader's safety limits ({detail}): a compressed part that expands "
                f"far beyond the file's size, or a page tree built to explode. {_REEXPORT}")
    if problem == "memory":
        return (f"{where} needs more than {limits.parse_memory_mb} MB of memory to read (a compressed part "
                f"expands far beyond the file's size, or its structure is built to explode). {_REEXPORT}")
    return f"{where} is damaged or unreadable as a PDF. {_REEXPORT}"


def _probe(content: Blob, limits: PdfLimits) -> dict:
    return probe_pdf(content, ProbeLimits(max_pages=limits.max_pages, parse_seconds=limits.parse_seconds,
                                          memory_bytes=limits.parse_memory_mb * 1024 * 1024))


def pdf_filename(title: str) -> str:
    safe = "".join(c if c.isalnum() or c in " -_." else "_" for c in title).strip() or "document"
    return safe if safe.lower().endswith(".pdf") else f"{safe}.pdf"
