"""Writes order_form.pdf, the fillable template the demo rule `order-form` sends.

Run `python sandbox/make_order_form.py` from the repository root after changing the layout.
The static text is drawn with the sandbox's tiny PDF writer; pypdf adds one AcroForm text field per
line, named as the mapping's `template.fields` keys expect.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sandbox.pdfgen import text_pdf  # noqa: E402 - after the path is set

OUT = Path(__file__).resolve().parent / "order_form.pdf"
TOP, LEADING, FIELD_X, FIELD_WIDTH = 792 - 72, 14, 230, 310
# label, form field name; None: a line of text only
LINES = [
    ("ORDER FORM", None), ("", None),
    ("Customer:", "customer_name"), ("Billing city:", "billing_city"), ("Opportunity:", "opportunity_name"),
    ("Order total:", "amount"), ("Close date:", "close_date"), ("", None),
    ("Account executive:", "owner_name"), ("Account executive e-mail:", "owner_email"), ("", None),
    ("Signed for the customer by:", "signer_name"), ("Signer e-mail:", "signer_email"), ("", None),
    ("The customer orders the products and services above on the agreed terms.", None), ("", None),
    ("Signature: ____________________", None),
]
DEFAULT_APPEARANCE = "/Helv 10 Tf 0 g"


def build() -> bytes:
    base = text_pdf([[label for label, _ in LINES]], title="Order Form")
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base)))
    helvetica = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"), NameObject("/Encoding"): NameObject("/WinAnsiEncoding")}))
    fields = ArrayObject()
    for index, (_, name) in enumerate(LINES):
        if name is None:
            continue
        baseline = TOP - index * LEADING
        widget = DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject(name),
            NameObject("/V"): TextStringObject(""), NameObject("/F"): NumberObject(4),
            NameObject("/DA"): TextStringObject(DEFAULT_APPEARANCE),
            NameObject("/Rect"): ArrayObject([FloatObject(FIELD_X), FloatObject(baseline - 4),
                                              FloatObject(FIELD_X + FIELD_WIDTH), FloatObject(baseline + 11)]),
        })
        fields.append(writer.add_annotation(0, widget).indirect_reference)
    writer.root_object[NameObject("/AcroForm")] = DictionaryObject({
        NameObject("/Fields"): fields,
        NameObject("/DA"): TextStringObject(DEFAULT_APPEARANCE),
        NameObject("/DR"): DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/Helv"): helvetica})}),
        NameObject("/NeedAppearances"): BooleanObject(True),
    })
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


if __name__ == "__main__":
    OUT.write_bytes(build())
    print(f"wrote {OUT}")
