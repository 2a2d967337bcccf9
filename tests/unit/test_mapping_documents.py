"""documents: file selectors (old single form and list form) and fillable-PDF templates, with located errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.settings import REPO_ROOT
from mappings.loader import MappingError, load_mapping, parse_mapping
from mappings.models import DocumentSelector, TemplateDocument
from sandbox.pdfgen import text_pdf

TEMPLATE = REPO_ROOT / "mappings" / "templates" / "order_form.pdf"
HEAD = """version: 1
rules:
  - id: order
    trigger: {stages: [Contract Sent]}
    provider: onespan
    signers: [{role: Decision Maker}]
"""
TEMPLATE_ITEM = """    documents:
      - template:
          path: templates/order_form.pdf
          title: "Order Form {{Opportunity.Name}}"
          fields:
            customer_name: "{{Account.Name}}"
            amount: "{{Opportunity.Amount}}"
      - title_pattern: "Terms*"
        required: false
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "templates").mkdir()
    shutil.copy(TEMPLATE, tmp_path / "templates" / "order_form.pdf")
    return tmp_path


def _load(folder: Path, text: str):
    path = folder / "rules.yaml"
    path.write_text(text)
    return load_mapping(path)


def _problems(folder: Path, text: str) -> list[str]:
    with pytest.raises(MappingError) as info:
        _load(folder, text)
    return [str(p).replace(str(folder), "<dir>") for p in info.value.problems]


def test_the_single_selector_form_still_loads_as_a_list_of_one():
    rule = parse_mapping(HEAD + '    documents: {title_pattern: "Quote*", select: all}\n').rules[0]
    assert rule.documents == [DocumentSelector(title_pattern="Quote*", select="all", required=True)]


def test_a_list_mixes_a_template_and_an_optional_file(folder: Path):
    template, terms = _load(folder, HEAD + TEMPLATE_ITEM).rules[0].documents
    assert isinstance(template, TemplateDocument)
    assert template.template.path == "templates/order_form.pdf"
    assert template.template.fields == {"customer_name": "{{Account.Name}}", "amount": "{{Opportunity.Amount}}"}
    assert (terms.title_pattern, terms.required) == ("Terms*", False)


def test_a_missing_template_file_is_located_with_the_nearest_file(folder: Path):
    text = HEAD + TEMPLATE_ITEM.replace("order_form.pdf", "order_frm.pdf")
    assert _problems(folder, text) == [
        "<dir>/rules.yaml:9:17: rule order: rules.0.documents.0.template.path: template file "
        "'templates/order_frm.pdf' not found in <dir>; did you mean 'templates/order_form.pdf'?"]


def test_an_unknown_form_field_is_located_at_its_name_with_the_nearest_valid_one(folder: Path):
    text = HEAD + TEMPLATE_ITEM.replace("customer_name:", "custmer_name:")
    assert _problems(folder, text) == [
        "<dir>/rules.yaml:12:13: rule order: rules.0.documents.0.template.fields.custmer_name: form field "
        "'custmer_name' is not in templates/order_form.pdf; did you mean 'customer_name'?"]


def test_a_form_field_the_template_lacks_lists_the_template_fields(folder: Path):
    text = HEAD + TEMPLATE_ITEM.replace("amount:", "vat_number:")
    [problem] = _problems(folder, text)
    assert problem.startswith("<dir>/rules.yaml:13:13: rule order: rules.0.documents.0.template.fields.vat_number: "
                              "form field 'vat_number' is not in templates/order_form.pdf; available: ")
    assert "customer_name" in problem and "signer_email" in problem


def test_a_pdf_without_form_fields_or_no_pdf_at_all_is_refused(folder: Path):
    (folder / "templates" / "order_form.pdf").write_bytes(text_pdf([["no fields"]]))
    assert _problems(folder, HEAD + TEMPLATE_ITEM)[0].endswith(
        "template 'templates/order_form.pdf' has no form fields; add text fields to the PDF")
    (folder / "templates" / "order_form.pdf").write_bytes(b"PK\x03\x04 a zip")
    assert _problems(folder, HEAD + TEMPLATE_ITEM)[0].endswith(
        "template 'templates/order_form.pdf' is not a readable PDF; use a fillable PDF")


@pytest.mark.parametrize(("path", "message"), [
    ("../outside.pdf", "must be relative to the mapping file's folder and stay inside it"),
    ("/etc/order.pdf", "must be relative to the mapping file's folder and stay inside it"),
    ("templates/order_form.docx", "must name a fillable PDF (.pdf)"),
])
def test_template_paths_stay_in_the_mapping_folder_and_name_a_pdf(folder: Path, path: str, message: str):
    [problem] = _problems(folder, HEAD + TEMPLATE_ITEM.replace("templates/order_form.pdf", path))
    assert problem.startswith("<dir>/rules.yaml:9:17: rule order: rules.0.documents.0.template.path: ")
    assert message in problem


def test_unknown_keys_inside_items_get_the_nearest_key_of_their_own_kind(folder: Path):
    text = HEAD + TEMPLATE_ITEM.replace("          title:", "          titel:").replace("required:", "requird:")
    problems = _problems(folder, text)
    assert "<dir>/rules.yaml:9:11: rule order: rules.0.documents.0.template.title: Field required" in problems
    assert ("<dir>/rules.yaml:10:11: rule order: rules.0.documents.0.template.titel: unknown key 'titel'; "
            "did you mean 'title'?") in problems
    assert ("<dir>/rules.yaml:15:9: rule order: rules.0.documents.1.requird: unknown key 'requird'; "
            "did you mean 'required'?") in problems


def test_an_unknown_merge_field_in_a_template_field_is_located_with_a_suggestion(folder: Path):
    text = HEAD + TEMPLATE_ITEM.replace("{{Account.Name}}", "{{Acount.Name}}")
    assert _problems(folder, text) == [
        "<dir>/rules.yaml:12:28: rule order: rules.0.documents.0.template.fields.customer_name: unknown merge "
        "field {{Acount.Name}}; did you mean {{Account.Name}}?"]


def test_a_document_item_that_is_not_a_mapping_is_located(folder: Path):
    assert _problems(folder, HEAD + "    documents: [Quote]\n") == [
        "<dir>/rules.yaml:7:17: rule order: rules.0.documents.0: Input should be a valid dictionary or instance of "
        "DocumentSelector"]


def test_the_shipped_template_has_the_fields_the_demo_rule_fills():
    mapping = load_mapping(REPO_ROOT / "mappings" / "rules.yaml")
    [document] = mapping.rule("order-form").documents
    assert set(document.template.fields) == {"customer_name", "billing_city", "opportunity_name", "amount",
                                             "close_date", "owner_name", "owner_email", "signer_name", "signer_email"}


def test_a_rule_stored_on_a_job_before_documents_became_a_list_still_validates():
    from mappings.models import Rule

    stored = {"id": "quote", "trigger": {"stages": ["Contract Sent"]}, "provider": "signrequest",
              "documents": {"title_pattern": "Quote*", "select": "newest"}, "signers": [{"role": "Decision Maker"}]}
    rule = Rule.model_validate(stored)
    assert rule.documents == [DocumentSelector(title_pattern="Quote*")] and rule.language == "en"
    assert Rule.model_validate(rule.model_dump(mode="json")) == rule


def _with_checkbox(field_name: str) -> bytes:
    """The shipped template with one of its text fields turned into a checkbox."""
    import io

    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(TEMPLATE.read_bytes())))
    for annotation in writer.pages[0]["/Annots"]:
        widget = annotation.get_object()
        if widget["/T"] == field_name:
            widget[NameObject("/FT")] = NameObject("/Btn")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_form_field_that_is_not_a_text_field_is_refused(folder: Path):
    (folder / "templates" / "order_form.pdf").write_bytes(_with_checkbox("amount"))
    [problem] = _problems(folder, HEAD + TEMPLATE_ITEM)
    assert problem.startswith("<dir>/rules.yaml:13:13: rule order: rules.0.documents.0.template.fields.amount: "
                              "form field 'amount' in templates/order_form.pdf is a button or checkbox field; only "
                              "text fields can be filled (text fields: billing_city, close_date, customer_name")


def test_a_template_path_with_control_characters_is_refused(folder: Path):
    text = HEAD + TEMPLATE_ITEM.replace("path: templates/order_form.pdf", 'path: "templates/\\torder.pdf"')
    assert _problems(folder, text) == [
        "<dir>/rules.yaml:9:17: rule order: rules.0.documents.0.template.path: template path must be at most 255 "
        "characters, without control characters"]
