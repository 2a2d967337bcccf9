"""The receipt as a PDF for people: one page per section (more when a section is long), drawn from the JSON.

reportlab draws the text (BSD licensed, maintained since 2000, and its invariant mode makes the same receipt
give the same bytes). The standard Helvetica covers Latin-1; other characters print as '?'. The JSON is the
record; the PDF says so on every page and repeats the receipt's hash.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

_MARGIN = 50
_LINE = 13
_WIDTH, _HEIGHT = A4


def render_pdf(receipt_bytes: bytes) -> bytes:
    receipt = json.loads(receipt_bytes)
    digest = hashlib.sha256(receipt_bytes).hexdigest()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(f"Signing receipt {receipt.get('sequence')} - {(receipt.get('opportunity') or {}).get('name')}")
    canvas.setAuthor("esign-connector")
    for title, lines in _sections(receipt):
        _page(canvas, title, lines, receipt, digest)
    canvas.save()
    return out.getvalue()


def _sections(r: dict[str, Any]) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    opportunity, rule, provider, seal = (r.get(k) or {} for k in ("opportunity", "rule", "provider", "seal"))
    yield "Summary", [
        ("Outcome", str(r.get("outcome"))), ("Issued at", str(r.get("issued_at"))),
        ("Opportunity", f"{opportunity.get('name')} ({opportunity.get('id')})"),
        ("Stage entered", f"{opportunity.get('stage')} at {opportunity.get('stage_entered_at')}"),
        ("Rule", f"{rule.get('id')} (rule sha256 {rule.get('rule_sha256')})"),
        ("Mapping file sha256", str(rule.get("mapping_file_sha256"))),
        ("Provider", f"{provider.get('label')}, request {provider.get('request_id')}"),
        *([("Declined by", f"{r.get('declined_by')}: {r.get('decline_reason')}")] if r.get("declined_by") else []),
        ("Receipt number", str(r.get("sequence"))),
        ("Previous receipt sha256", r.get("previous_receipt_sha256") or "none: the first receipt of this connector"),
        ("Sealed with", f"{seal.get('algorithm')} key {seal.get('key_id')}"),
        ("Public key", str(seal.get("public_key"))), ("Job", str(r.get("job_id"))),
    ]
    files: list[tuple[str, str]] = []
    for document in r.get("documents_sent") or []:
        files += [("Sent", str(document.get("title"))),
                  ("", f"ContentVersion {document.get('content_version_id') or document.get('template')}, "
                       f"{document.get('bytes')} bytes"), ("", f"sha256 {document.get('sha256')}")]
    for returned in r.get("files_returned") or []:
        files += [(f"Returned ({returned.get('kind')})", str(returned.get("title"))),
                  ("", f"ContentVersion {returned.get('content_version_id')}, {returned.get('bytes')} bytes"),
                  ("", f"sha256 {returned.get('sha256')}")]
    yield "Documents", files or [("", "none")]
    signers: list[tuple[str, str]] = []
    for s in r.get("signers") or []:
        signers += [(f"{s.get('order')}. {s.get('role')}", f"{s.get('name')} <{s.get('email')}>"),
                    ("", f"authentication: {s.get('authentication')}"),
                    ("", f"viewed: {_when(s, 'viewed')}; signed: {_when(s, 'signed')}; "
                         f"declined: {_when(s, 'declined')}")]
        if s.get("decline_reason"):
            signers.append(("", f"reason: {s.get('decline_reason')}"))
    yield "Signers", signers or [("", "none")]
    yield "Connector timeline", [
        (str(e.get("at")), f"{e.get('event')}: {e.get('detail') or ''}"
                           + (" (authenticated)" if e.get("authenticated") else ""))
        for e in r.get("timeline") or []] or [("", "none")]


def _when(signer: dict[str, Any], what: str) -> str:
    if not signer.get(what):
        return "no"
    return str(signer.get(f"{what}_at") or "yes (time not reported)")


def _page(canvas: Canvas, title: str, lines: list[tuple[str, str]], receipt: dict[str, Any], digest: str) -> None:
    y = _start(canvas, title, receipt, digest)
    for label, value in lines:
        wrapped = simpleSplit(_latin1(value), "Helvetica", 9, _WIDTH - 2 * _MARGIN - 150) or [""]
        if y - _LINE * len(wrapped) < _MARGIN + 30:
            canvas.showPage()
            y = _start(canvas, f"{title} (continued)", receipt, digest)
        canvas.setFont("Helvetica-Bold", 9)
        canvas.drawString(_MARGIN, y, _latin1(label)[:32])
        canvas.setFont("Helvetica", 9)
        for part in wrapped:
            canvas.drawString(_MARGIN + 150, y, part)
            y -= _LINE
        y -= 3
    canvas.showPage()


def _start(canvas: Canvas, title: str, receipt: dict[str, Any], digest: str) -> float:
    canvas.setFont("Helvetica-Bold", 15)
    canvas.drawString(_MARGIN, _HEIGHT - _MARGIN, "Signing receipt")
    canvas.setFont("Helvetica", 9)
    canvas.drawRightString(_WIDTH - _MARGIN, _HEIGHT - _MARGIN, f"No. {receipt.get('sequence')}")
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(_MARGIN, _HEIGHT - _MARGIN - 24, title)
    canvas.setLineWidth(0.5)
    canvas.line(_MARGIN, _HEIGHT - _MARGIN - 32, _WIDTH - _MARGIN, _HEIGHT - _MARGIN - 32)
    canvas.setFont("Helvetica", 7)
    canvas.drawString(_MARGIN, _MARGIN - 4, f"A rendering of the sealed JSON receipt sha256 {digest}.")
    canvas.drawString(_MARGIN, _MARGIN - 13, "The JSON file is the record: verify it with run_connector.py "
                                             "verify-receipt, or as docs/receipt-format.md describes.")
    return _HEIGHT - _MARGIN - 50


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")
