"""Documents generated from the fillable template: filling, sending through the engine, and `plan`."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace

from pypdf import PdfReader

from config.settings import REPO_ROOT
from connector.admin.plan_command import run_plan
from connector.documents.pdf_forms import fill, form_fields
from connector.documents.selection import PdfLimits
from connector.ports.provider import ProviderCapabilities
from mappings.loader import parse_mapping
from tests.unit.conftest import RULES

TEMPLATE = (REPO_ROOT / "mappings" / "templates" / "order_form.pdf").read_bytes()
TEMPLATE_RULES = RULES.replace('    documents: {title_pattern: "Quote*"}\n', """    documents:
      - template:
          path: templates/order_form.pdf
          title: "Order Form {{Opportunity.Name}}"
          fields: {customer_name: "{{Account.Name}}", amount: "{{Opportunity.Amount}}",
                   signer_name: "{{Signer1.Name}}", owner_name: "{{Owner.Name}}"}
""") + "    language: nl\n"


def _mapping(text: str = TEMPLATE_RULES):
    return parse_mapping(text, base_dir=REPO_ROOT / "mappings")


def _text(content: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)


def test_filling_puts_the_values_in_the_page_and_removes_the_form():
    filled = fill(TEMPLATE, {"customer_name": "Northwind Traders", "amount": "48000", "signer_email": "d@x.io"})
    reader = PdfReader(io.BytesIO(filled))
    assert len(reader.pages) == 1 and reader.get_fields() is None
    assert all(value in _text(filled) for value in ("Northwind Traders", "48000", "d@x.io", "ORDER FORM"))
    assert form_fields(filled) == {}
    assert fill(TEMPLATE, {"amount": "1"}) == fill(TEMPLATE, {"amount": "1"})  # same input, same bytes and hash


def test_the_engine_sends_the_generated_document_with_the_rule_language(world):
    world.mapping = _mapping()
    opportunity = world.add_opportunity(content=b"not even a PDF: no file is read for a template")
    world.crm.opportunities[opportunity.id] = replace(opportunity, values={"Amount": 48000.0})
    world.daemon().run_once()

    [request] = world.provider.requests.values()
    [document] = request.spec.documents
    assert (document.title, document.filename) == ("Order Form Deal 1AAA", "Order Form Deal 1AAA.pdf")
    text = _text(document.content)
    assert all(value in text for value in ("Acme", "48.000,00", "Dana Signer", "Rita Rep"))  # the rule says nl
    assert request.spec.language == "nl"
    assert world.crm.polled_fields == [("Amount",)]


def test_an_optional_file_that_is_missing_is_left_out_and_nothing_at_all_is_refused(world):
    world.mapping = _mapping(TEMPLATE_RULES.replace("    documents:\n", "    documents:\n      - {title_pattern: "
                                                    "'Terms*', required: false}\n"))
    opportunity = world.add_opportunity()
    world.daemon().run_once()
    [request] = world.provider.requests.values()
    assert [d.title for d in request.spec.documents] == ["Order Form Deal 1AAA"]

    world.mapping = _mapping(RULES.replace('{title_pattern: "Quote*"}', '{title_pattern: "Terms*", required: false}'))
    world.add_opportunity("006000000000002AAA")
    world.daemon().run_once()
    assert world.provider.create_calls == 1
    assert "has nothing to send" in world.crm.fields["006000000000002AAA"]["Signing_Last_Error__c"]
    assert world.crm.fields[opportunity.id]["Signing_Status__c"] == "Sent"


def test_a_template_and_a_file_need_a_provider_that_takes_several_documents(world):
    world.mapping = _mapping(TEMPLATE_RULES.replace("    documents:\n", "    documents:\n      - {title_pattern: "
                                                    "'Quote*'}\n"))
    world.provider.capabilities = ProviderCapabilities(multiple_documents=False, languages=None)
    world.add_opportunity()
    world.daemon().run_once()
    assert world.provider.create_calls == 0
    error = world.crm.fields["006000000000001AAA"]["Signing_Last_Error__c"]
    assert "Rule quote selects 2 documents but FakeSign sends one document per request" in error


def test_a_template_gone_at_send_time_is_written_back_as_an_error(world, tmp_path):
    world.settings = world.settings.model_copy(update={"mappings_path": tmp_path / "rules.yaml"})
    world.mapping = _mapping()
    world.add_opportunity()
    world.daemon().run_once()
    assert world.provider.create_calls == 0
    assert world.crm.fields["006000000000001AAA"]["Signing_Last_Error__c"] == (
        "The template templates/order_form.pdf for 'Order Form Deal 1AAA' is missing from the connector's mapping "
        "folder. Restore the file, or change the rule's documents.")


def test_plan_shows_the_generated_document_and_the_rendered_texts(world):
    world.mapping = _mapping(TEMPLATE_RULES.replace('"Sign {{Opportunity.Name}}"',
                                                    '"Order for {{Account.Name}}: {{Opportunity.Amount}}"'))
    opportunity = world.add_opportunity()
    world.crm.opportunities[opportunity.id] = replace(opportunity, values={"Amount": 1250.5})
    daemon = world.daemon()
    lines: list[str] = []
    code = run_plan(crm=world.crm, providers=daemon.providers, mapping=daemon.mappings.current,
                    opportunity_id=opportunity.id, limits=PdfLimits(), callback_base_url="https://c.example",
                    templates_dir=REPO_ROOT / "mappings", out=lines.append)
    text = "\n".join(lines)
    generated = fill(TEMPLATE, {"customer_name": "Acme", "amount": "1.250,50", "signer_name": "Dana Signer",
                                "owner_name": "Rita Rep"})
    assert code == 0
    assert (f"  document 'Order Form Deal 1AAA' (template templates/order_form.pdf): {len(generated):,} bytes, "
            f"1 page(s), sha256 {hashlib.sha256(generated).hexdigest()}") in text
    assert "\n  subject: Order for Acme: 1.250,50\n" in text and "\n  language: nl\n" in text
    assert world.provider.create_calls == 0 and "would be refused" not in text
