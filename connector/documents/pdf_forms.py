"""Fillable PDF templates: which text fields a template has, and filling them into a flat PDF.

The filled PDF is flattened (each field's appearance drawn into the page, the form removed), so
every viewer and every signing provider shows the values and no signer can edit them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from pypdf.generic import NameObject

from connector.ports.errors import ConnectorError, ErrorKind

# Invisible direction marks (CLDR puts them in Hebrew and Arabic amounts) that the templates' WinAnsi
# Helvetica cannot encode, and the narrow no-break space, which it draws as an ordinary one.
_UNDRAWABLE = str.maketrans({"\u200e": None, "\u200f": None, "\u061c": None, "\u202f": "\u00a0"})
# pypdf's /FT names, for messages.
_FIELD_KINDS = {"/Tx": "text", "/Btn": "button or checkbox", "/Ch": "choice list", "/Sig": "signature"}
READ_ERRORS = (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError)


class TemplateError(ConnectorError):
    """The template cannot be read or filled; `message` says why."""

    kind = ErrorKind.BAD_INPUT


def form_fields(content: bytes) -> dict[str, str]:
    """Every form field of the PDF, fully qualified name -> kind ('text', 'choice list', ...)."""
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise TemplateError("is password-protected")
        fields = reader.get_fields() or {}
    except TemplateError:
        raise
    except READ_ERRORS:
        raise TemplateError("is not a readable PDF") from None
    return {name: _FIELD_KINDS.get(str(field.get("/FT")), "unknown") for name, field in fields.items()}


def fill(content: bytes, values: Mapping[str, str]) -> bytes:
    """The template with `values` in its text fields, flattened into the page content."""
    try:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(content), strict=False))
        writer.set_need_appearances_writer(True)
        for page in writer.pages:
            if page.get("/Annots"):
                drawable = {name: text.translate(_UNDRAWABLE) for name, text in values.items()}
                writer.update_page_form_field_values(page, drawable, auto_regenerate=False, flatten=True)
        writer.remove_annotations(subtypes="/Widget")
        writer.root_object.pop(NameObject("/AcroForm"), None)
        out = io.BytesIO()
        writer.write(out)
    except READ_ERRORS as exc:
        raise TemplateError(f"could not be filled ({type(exc).__name__})") from None
    return out.getvalue()
