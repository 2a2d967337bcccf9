"""Choosing the opportunity's files for a rule, and accepting only real, readable PDFs."""

from __future__ import annotations

import fnmatch
import io
import logging
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from connector.crm import FileRef, Opportunity
from connector.errors import PreparationError

log = logging.getLogger(__name__)
OUTPUT_SUFFIXES = (" - signed", " - evidence")


@dataclass(frozen=True)
class PdfLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_pages: int = 2000


def select_files(opportunity: Opportunity, title_pattern: str, select: str) -> list[FileRef]:
    """Files whose title matches, newest version first; `select` is 'newest' or 'all'."""
    pattern = title_pattern.lower()
    # Never send back what the connector attached itself (a signed copy or an evidence report).
    candidates = [f for f in opportunity.files if not f.title.endswith(OUTPUT_SUFFIXES)]
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


def check_pdf(file: FileRef, content: bytes, limits: PdfLimits) -> int:
    """Raise PreparationError unless `content` is a readable, unencrypted PDF; return its pages."""
    where = f"File {file.title!r} ({file.version_id})"
    if len(content) > limits.max_bytes:
        raise PreparationError(
            f"{where} is {len(content):,} bytes, over the {limits.max_bytes:,}-byte limit. "
            "Attach a smaller PDF."
        )
    if not content.lstrip()[:5].startswith(b"%PDF-"):
        raise PreparationError(
            f"{where} is not a PDF (extension {file.extension or 'none'}). Save it as PDF and attach it again."
        )
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise PreparationError(
                f"{where} is password-protected. Attach a copy without a password so it can be signed."
            )
        pages = len(reader.pages)
        for page in reader.pages:
            page.mediabox  # noqa: B018 - touching each page proves the page tree is readable
    except PreparationError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        log.info("unreadable PDF %s: %s", file.version_id, type(exc).__name__)
        raise PreparationError(
            f"{where} is damaged or unreadable as a PDF. Export it to PDF again and attach the new file."
        ) from None
    if pages == 0:
        raise PreparationError(f"{where} has no pages. Attach the complete PDF.")
    if pages > limits.max_pages:
        raise PreparationError(f"{where} has {pages} pages, over the {limits.max_pages}-page limit.")
    return pages


def pdf_filename(title: str) -> str:
    safe = "".join(c if c.isalnum() or c in " -_." else "_" for c in title).strip() or "document"
    return safe if safe.lower().endswith(".pdf") else f"{safe}.pdf"
