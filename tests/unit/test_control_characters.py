"""Control characters (U+202E RIGHT-TO-LEFT OVERRIDE, NUL, other Cc/Cf) in text from Salesforce records.

Signer identity (contact and owner names, emails, phones) is refused with a located error naming the record
and the field; free text (subject, message, document titles, template field values) is cleaned."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.documents.selection import PdfLimits
from connector.engine.planner import plan_request
from connector.engine.signers import build_signers
from connector.ports.crm import Contact, ContactRole, FileRef
from connector.ports.errors import PreparationError
from connector.ports.provider import ProviderCapabilities
from connector.store import JobState
from mappings.control_chars import first_control, strip_controls
from mappings.loader import MappingError, parse_mapping
from mappings.models import InternalSigner, SignerRule
from tests.unit.conftest import RULES, World

RLO = "\u202e"
ROLES = [SignerRule(role="Decision Maker"), SignerRule(role="Economic Buyer")]


def _with_contact(world: World, **changes):
    opportunity = world.add_opportunity()
    dana = opportunity.contact_roles[0]
    contact = replace(dana.contact, **changes)
    return replace(opportunity, contact_roles=(replace(dana, contact=contact), *opportunity.contact_roles[1:]))


@pytest.mark.parametrize(("field", "change", "shown"), [
    ("FirstName", {"first_name": f"Dana{RLO}gpj.exe"}, "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("LastName", {"last_name": "Sig\x00ner"}, "U+0000"),
    ("LastName", {"last_name": "Signer\u2066"}, "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("FirstName", {"first_name": "Da\u200fna"}, "U+200F RIGHT-TO-LEFT MARK"),
    ("Email", {"email": f"dana{RLO}@example.com"}, "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("MobilePhone", {"mobile_phone": "+1555\x1b0100"}, "U+001B"),  # with SMS authentication, which sends it
])
def test_a_control_character_in_a_signers_identity_is_refused_naming_record_and_field(world, field, change, shown):
    opportunity = _with_contact(world, **change)
    with pytest.raises(PreparationError) as refused:
        build_signers(opportunity, [SignerRule(role="Decision Maker", auth="sms"), ROLES[1]])
    message = refused.value.message
    assert message.startswith("Contact Dana")
    assert "(003000000000001AAA), the 'Decision Maker' on opportunity Deal 1AAA (006000000000001AAA): " \
           f"{field} contains a control character ({shown}). Remove it on the contact" in message
    assert first_control(message) is None  # the error itself carries none back to Salesforce


def test_an_owner_who_countersigns_with_a_control_character_in_the_name_is_refused(world):
    opportunity = replace(world.add_opportunity(), owner_id="005000000000001AAA", owner_name=f"Rita {RLO}Rep",
                          owner_email="rita@acme.example")
    with pytest.raises(PreparationError, match=r"User 005000000000001AAA, the owner of opportunity Deal 1AAA "
                                               r"\(006000000000001AAA\) who countersigns: Name contains a control "
                                               r"character \(U\+202E RIGHT-TO-LEFT OVERRIDE\)"):
        build_signers(opportunity, ROLES, InternalSigner(owner=True))


def test_a_named_internal_signer_with_a_control_character_is_refused_at_load():
    text = RULES + f'    internal_signer: {{email: ceo@acme.example, first_name: "Cy{RLO}", last_name: Eo}}\n'
    with pytest.raises(MappingError) as refused:
        parse_mapping(text, "rules.yaml")
    [problem] = [str(p) for p in refused.value.problems]
    assert "internal_signer.first_name" in problem and "U+202E RIGHT-TO-LEFT OVERRIDE" in problem


@pytest.mark.parametrize("name", ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "Zo\u00eb", "\u0915\u094d\u200d\u0937",
                                  "O'Neil-Smith", "\U0001f469\u200d\U0001f4bb"])
def test_joiners_and_ordinary_letters_in_names_are_kept(world, name):
    """ZWNJ/ZWJ spell Persian and Indic words (and join emoji): they are not controls here."""
    signers = build_signers(_with_contact(world, first_name=name), ROLES)
    assert signers[0].first_name == name


def test_free_text_is_sent_without_its_control_characters(world):
    opportunity = world.add_opportunity()
    opportunity = replace(
        opportunity, name=f"Deal{RLO} 1AAA\x00", account_name="Ac\u2067me\x07",
        files=(FileRef("069000000000001AAA", "068000000000001AAA", f"Quote{RLO}fdp.exe", "pdf", 100),))
    text = RULES.replace('    subject: "Sign {{Opportunity.Name}}"\n',
                         '    subject: "Sign {{Opportunity.Name}}\\nfor {{Account.Name}}"\n'
                         '    message: "Dear {{Signer1.FirstName}},\\n\\tplease sign {{Opportunity.Name}}\\r\\n'
                         'for {{Account.Name}}."\n')
    rule = parse_mapping(text).rules[0]
    spec, planned = plan_request(rule, opportunity, download=world.crm.download_file,
                                 capabilities=ProviderCapabilities(), provider_label="FakeSign", limits=PdfLimits(),
                                 external_id="job-1", callback_url="https://x")
    assert spec.subject == "Sign Deal 1AAA for Acme"
    assert spec.message == "Dear Dana,\n\tplease sign Deal 1AAA\nfor Acme."
    assert [(d.title, d.filename) for d in spec.documents] == [("Quotefdp.exe", "Quotefdp.exe.pdf")]
    assert planned[0].title == "Quotefdp.exe"


def test_a_refused_signer_is_written_back_and_the_other_deals_go_on(world):
    bad = world.add_opportunity("006000000000001AAA")
    world.crm.opportunities[bad.id] = replace(bad, contact_roles=(
        ContactRole(Contact("003000000000001AAA", f"Dana{RLO}", "Signer", "dana@example.com"), "Decision Maker",
                    True), *bad.contact_roles[1:]))
    good = world.add_opportunity("006000000000002AAA")
    daemon = world.daemon()
    daemon.run_once()
    jobs = {job.opportunity_id: job for job in daemon.store.list_jobs()}
    assert (jobs[bad.id].state, jobs[bad.id].outcome) == (JobState.DONE, "failed")
    error = world.crm.fields[bad.id]["Signing_Last_Error__c"]
    assert "Contact Dana Signer (003000000000001AAA)" in error and "FirstName contains a control character" in error
    assert jobs[good.id].state == JobState.AWAITING and world.provider.create_calls == 1


@pytest.mark.parametrize(("text", "multiline", "expected"), [
    ("plain", False, "plain"), ("a\r\nb\tc\u2028d", False, "a  b c d"), ("a\r\nb\rc\u2029d\te", True, "a\nb\nc\nd\te"),
    ("\x00\x1f\x7f\x85\u200e\u202a\u202e\u2066\u2069\ufeff\u200b\ud800x", False, " x"),  # NEL: a line break
])
def test_strip_controls(text, multiline, expected):
    assert strip_controls(text, multiline=multiline) == expected
