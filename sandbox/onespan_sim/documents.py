"""The PDFs the simulated OneSpan serves: consent document, signed copies, evidence summary, the zip."""

from __future__ import annotations

import io
import zipfile
from functools import cache

from pypdf import PdfReader, PdfWriter
from pypdf.annotations import FreeText

from sandbox.onespan_sim.model import CONSENT_ID, Package
from sandbox.onespan_sim.render import field_rect
from sandbox.pdfgen import append_pages, text_pdf

CONSENT_NAME = "Electronic Disclosures and Signatures Consent"


@cache
def consent_pdf() -> bytes:
    text = "OneSpan Sign sandbox: you agree to sign these documents electronically."
    return text_pdf([[CONSENT_NAME, "", text]], title=CONSENT_NAME)


def _signature_lines(package: Package) -> list[str]:
    lines = []
    for role in package.signer_roles():
        signer = role["signers"][0]
        signed = [a["signed"] for a in package.approvals(role["id"]) if a.get("signed")]
        if signed and package.role_signed(role["id"]):
            name = f"{signer['firstName']} {signer['lastName']}"
            lines.append(f"Signed by {name} <{signer['email']}> at {max(signed)}")
    return lines


def _stamped(package: Package, document: dict) -> bytes:
    """The original with each signed approval's fields filled in where the field is (a text annotation
    over the field's box, placed as OneSpan's engine measures the page)."""
    original = package.files[document["id"]]
    names = {r["id"]: f"{r['signers'][0]['firstName']} {r['signers'][0]['lastName']}" for r in package.signer_roles()}
    fields = [(names.get(a["role"], a["role"]), f) for a in document.get("approvals", []) if a.get("signed")
              for f in a.get("fields") or [] if f.get("type") == "SIGNATURE" and "page" in f]
    if not fields:
        return original
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(original)))
    for name, field in fields:
        rect = field_rect(writer.pages[field["page"]], field)
        writer.add_annotation(field["page"], FreeText(text=f"Signed: {name}", rect=rect, font_size="10pt"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def current_pdf(package: Package, document_id: str) -> bytes:
    """What GET .../documents/{id}/pdf returns: the signatures made so far in their fields, and listed on a
    signature page."""
    if document_id == CONSENT_ID:
        return consent_pdf()
    if document_id in package.signed_pdfs:
        return package.signed_pdfs[document_id]
    lines = _signature_lines(package)
    document = next(d for d in package.documents() if d["id"] == document_id)
    signed = _stamped(package, document)
    return append_pages(signed, [["OneSpan Sign sandbox - signatures", *lines]]) if lines else signed


def freeze_signed(package: Package) -> None:
    """At completion the signed copies stop changing, so repeated downloads are byte-identical."""
    for document in package.documents():
        package.signed_pdfs[document["id"]] = current_pdf(package, document["id"])


def evidence_pdf(package: Package) -> bytes:
    events = [f"{at:%Y-%m-%d %H:%M:%S} UTC  {what}  (IP 127.0.0.1)" for at, what in package.audit]
    documents = [f"Document: {d['name']} ({d['id']})" for d in package.documents()]
    return text_pdf([["Evidence Summary (OneSpan Sign sandbox)", f"Transaction {package.id}",
                      f"Name: {package.payload['name']}", *documents, "", *events]], title="Evidence Summary")


def documents_zip(package: Package) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{CONSENT_NAME}.pdf", consent_pdf())
        for document in package.documents():
            archive.writestr(f"{document['name']}.pdf", current_pdf(package, document["id"]))
    return out.getvalue()
