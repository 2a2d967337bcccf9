"""Opportunities for the benchmarks, made in the Salesforce simulator as a user would (no API calls
counted), and what the simulators show of their progress."""

from __future__ import annotations

import logging
import os

from benchmarks.world import STAGE
from sandbox.pdfgen import text_pdf
from sandbox.salesforce_sim import SalesforceSimulator
from sandbox.signrequest_sim import ActionRefused, SignRequestSimulator

log = logging.getLogger(__name__)
SIGNED_SUFFIXES = (" - signed", " - evidence")


IMAGE_BYTES = 8 * 1024 * 1024  # pypdf refuses a single stream much over 75 MB; real scans are many images


def padded_pdf(size: int, title: str = "Quote") -> bytes:
    """A valid one-page PDF of about `size` bytes: random (incompressible) images the page draws."""
    width, images = 1024, []
    remaining = max(size - 2000, width)
    while remaining > 0:
        chunk = min(remaining, IMAGE_BYTES)
        height = max(1, chunk // width)
        images.append(os.urandom(width * height))
        remaining -= width * height
    first_image = 6  # objects 1-5: catalog, pages, font, page, content
    names = b" ".join(b"/Im%d %d 0 R" % (n, first_image + n) for n in range(len(images)))
    draws = b" ".join(b"q 100 0 0 100 72 %d cm /Im%d Do Q" % (100 + (n % 5) * 100, n) for n in range(len(images)))
    page_text = b"BT /F1 12 Tf 72 720 Td (Benchmark quote) Tj ET " + draws
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
        b"/Resources << /Font << /F1 3 0 R >> /XObject << %s >> >> >>" % names,
        b"<< /Length %d >>\nstream\n" % len(page_text) + page_text + b"\nendstream",
        *(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
          b"/Length %d >>\nstream\n" % (width, len(pixels) // width, len(pixels)) + pixels + b"\nendstream"
          for pixels in images),
        b"<< /Title (%s) /Producer (connector benchmarks) >>" % title.encode("latin-1"),
    ]
    header = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    parts, offsets, position = [header], [], len(header)
    for number, body in enumerate(objects, start=1):
        chunk = b"%d 0 obj\n" % number + body + b"\nendobj\n"
        offsets.append(position)
        parts.append(chunk)
        position += len(chunk)
    xref = [b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)]
    xref += [b"%010d 00000 n \n" % offset for offset in offsets]
    trailer = b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, len(objects), position)
    return b"".join(parts + xref + [trailer])


SMALL_PDF = text_pdf([["Quote Q-1", "100 widgets at 10 USD"]], title="Quote")


def make_deals(salesforce: SalesforceSimulator, count: int, pdf: bytes = SMALL_PDF, prefix: str = "Bench") -> list[str]:
    """`count` opportunities, each with one Decision Maker and one quote PDF (the same bytes object)."""
    opportunities = []
    for n in range(count):
        name = f"{prefix} {n:05d}"
        account = salesforce.create_record("Account", {"Name": f"{name} Inc"})
        contact = salesforce.create_record("Contact", {"FirstName": "Dana", "LastName": f"Signer{n}",
                                                       "AccountId": account, "Email": f"dana{n}@example.com"})
        opportunity = salesforce.create_record("Opportunity", {
            "Name": name, "StageName": "Qualification", "CloseDate": "2026-12-31", "AccountId": account})
        salesforce.create_record("OpportunityContactRole", {
            "OpportunityId": opportunity, "ContactId": contact, "Role": "Decision Maker", "IsPrimary": True})
        salesforce.attach_file(opportunity, f"Quote {name}", "quote.pdf", pdf)
        opportunities.append(opportunity)
    return opportunities


def trigger(salesforce: SalesforceSimulator, opportunities: list[str]) -> None:
    for opportunity in opportunities:
        salesforce.set_stage(opportunity, STAGE)


def sign_waiting(signrequest: SignRequestSimulator, limit: int | None = None) -> list[str]:
    """Sign as every signer whose turn it is (at most `limit`); returns the documents signed."""
    signed = []
    for document_uuid, email in signrequest.awaiting_signature()[:limit]:
        try:
            signrequest.sign(document_uuid, email)
            signed.append(document_uuid)
        except ActionRefused:
            pass
        except Exception:  # the simulator could not sign it (e.g. a PDF it cannot rewrite): report, go on
            log.exception("the SignRequest simulator failed to sign %s", document_uuid)
    return signed


def completed_opportunities(salesforce: SalesforceSimulator) -> set[str]:
    """Opportunities that show both the signed PDF and the evidence as Files."""
    seen: dict[str, set[str]] = {}
    for version in salesforce.records("ContentVersion"):
        title, linked = version.get("Title") or "", version.get("FirstPublishLocationId")
        for suffix in SIGNED_SUFFIXES:
            if linked and title.endswith(suffix):
                seen.setdefault(linked, set()).add(suffix)
    return {opportunity for opportunity, kinds in seen.items() if len(kinds) == len(SIGNED_SUFFIXES)}
