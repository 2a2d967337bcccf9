"""The sandbox's generated PDFs (demo files, signed copies, evidence reports) keep their text on the page:
lines wider than the page are wrapped at spaces, and lines past the bottom go on to a further page."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from connector.ports.provider import DocumentSpec, SignerSpec, SigningRequestSpec
from sandbox.pdfgen import text_pdf, text_width
from tests.contract.harnesses import HARNESSES

PAGE_WIDTH, MARGIN = 612, 72
_SHOWN = re.compile(rb"\(((?:\\.|[^\\)])*)\) Tj")
LONG_TITLE = ("Master Services Agreement, Statement of Work and Data Processing Addendum for the Northwind Fleet "
              "Telematics Renewal 2027 (all regions)")
SIGNERS = ("alexandra.montgomery-fitzwilliam@procurement.northwind-traders.example",
           "bartholomew.vanderberg-oyelaran@finance.contoso-pharmaceuticals.example")


def _lines(pdf: bytes) -> list[list[str]]:
    """The text lines drawn on each page, as the sandbox's writer draws them."""
    pages = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
        shown = [re.sub(rb"\\(.)", rb"\1", m.group(1)).decode("latin-1") for m in _SHOWN.finditer(data)]
        pages.append(shown)
    return pages


def _assert_on_the_page(pdf: bytes) -> list[str]:
    lines = [line for page in _lines(pdf) for line in page]
    assert lines
    too_wide = [line for line in lines if MARGIN + text_width(line) > PAGE_WIDTH - MARGIN]
    assert not too_wide
    return lines


def test_a_long_line_is_wrapped_at_spaces_and_nothing_is_lost():
    words = [f"word{n}" for n in range(60)]
    lines = _assert_on_the_page(text_pdf([["Title", " ".join(words)]]))
    assert lines[0] == "Title" and len(lines) > 2
    assert " ".join(lines[1:]).split(" ") == words

    digest = "0123456789abcdef" * 6  # wider than the page on its own: on a line of its own, cut where it must be
    lines = _assert_on_the_page(text_pdf([[f"SHA-256: {digest}"]]))
    assert lines[0] == "SHA-256:" and "".join(lines[1:]) == digest and len(lines) == 3


def test_lines_past_the_bottom_margin_go_on_to_a_new_page():
    pages = _lines(text_pdf([[f"Event {n}" for n in range(60)], ["Last page"]]))
    assert [len(p) for p in pages] == [47, 13, 1]
    assert pages[1][0] == "Event 47"


@pytest.mark.parametrize("name", ["onespan", "legalsign", "signrequest"])
def test_signed_copies_and_evidence_with_long_names_stay_on_the_page(name):
    with HARNESSES[name]() as harness:
        document = DocumentSpec(LONG_TITLE[:100], "long.pdf", text_pdf([[LONG_TITLE, "", "Signature: ________"]]))
        signers = tuple(SignerSpec(email, "Alexandra-Josephine", "Montgomery-Fitzwilliam", order)
                        for order, email in enumerate(SIGNERS, start=1))
        ref = harness.provider.create(SigningRequestSpec(
            external_id="job-long", documents=(document,), signers=signers, subject=LONG_TITLE[:100],
            message="Please sign", callback_url=harness.callback_url, expires_in_days=30))
        for email in SIGNERS:
            harness.view(ref, email)
            harness.sign(ref, email)
        signed = harness.provider.download_signed(ref)
        evidence = harness.provider.download_evidence(ref)
        drawn = [line for file in (*signed, evidence) for line in _assert_on_the_page(file.content)]
        text = " ".join(drawn)
        for email in SIGNERS:  # each signer's address is on the signature page or the evidence, whole or wrapped
            assert email in text.replace(" ", "") or email in text
