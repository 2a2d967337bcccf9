from __future__ import annotations

from dataclasses import replace

import pytest

from connector.engine.signers import build_signers
from connector.ports.crm import Contact, ContactRole, Opportunity
from connector.ports.errors import PreparationError
from connector.ports.provider import ProviderCapabilities
from connector.runtime.providers import ProviderConfigError, check_rules_have_providers
from mappings.loader import parse_mapping
from mappings.models import InternalSigner, SignerRule
from tests.fakes import FakeProvider

OPP = Opportunity(
    id="006000000000001AAA", name="Deal", stage="Contract Sent", system_modstamp=None,
    owner_name="Rita Rep", owner_email="rita@acme.example",
    contact_roles=(
        ContactRole(Contact("003A", "Ann", "Other", "ann@x.io"), "Decision Maker", False),
        ContactRole(Contact("003B", "Dana", "Primary", "dana@x.io", "+1 555 0100"), "Decision Maker", True),
        ContactRole(Contact("003C", "Eli", "Buyer", "eli@x.io"), "Economic Buyer"),
    ),
)
ROLES = [SignerRule(role="Decision Maker"), SignerRule(role="Economic Buyer")]


def test_primary_contact_signs_for_a_shared_role_in_rule_order():
    signers = build_signers(OPP, ROLES)
    assert [(s.email, s.order) for s in signers] == [("dana@x.io", 1), ("eli@x.io", 2)]


@pytest.mark.parametrize(("position", "expected"), [
    ("before", ["rita@acme.example", "dana@x.io", "eli@x.io"]),
    ("after", ["dana@x.io", "eli@x.io", "rita@acme.example"]),
])
def test_owner_countersigns_before_or_after(position, expected):
    signers = build_signers(OPP, ROLES, InternalSigner(owner=True, position=position))
    assert [s.email for s in signers] == expected and [s.order for s in signers] == [1, 2, 3]
    owner = next(s for s in signers if s.email == "rita@acme.example")
    assert (owner.first_name, owner.last_name) == ("Rita", "Rep")


def test_named_internal_signer():
    signers = build_signers(OPP, ROLES, InternalSigner(email="ceo@acme.example", first_name="Cy", last_name="Eo"))
    assert signers[-1].email == "ceo@acme.example"


def test_owner_without_email_is_a_clear_error():
    with pytest.raises(PreparationError, match="owner of opportunity Deal .* has no email"):
        build_signers(replace(OPP, owner_email=None), ROLES, InternalSigner(owner=True))


def test_sms_needs_a_mobile_number():
    signers = build_signers(OPP, [SignerRule(role="Decision Maker", auth="sms")])
    assert signers[0].mobile_phone == "+15550100"
    with pytest.raises(PreparationError, match="needs a mobile number in international format"):
        build_signers(OPP, [SignerRule(role="Economic Buyer", auth="sms")])


def test_missing_role_names_the_roles_present():
    with pytest.raises(PreparationError, match="no contact with the role 'Signer'.*Decision Maker, Economic Buyer"):
        build_signers(OPP, [SignerRule(role="Signer")])


def test_internal_signer_needs_owner_or_email():
    with pytest.raises(ValueError, match="either owner: true or an email"):
        InternalSigner()


SMS_RULES = """version: 1
rules:
  - id: sms-rule
    trigger: {stages: [Contract Sent]}
    provider: signrequest
    signers: [{role: Decision Maker, auth: sms}]
"""


def test_sms_rule_on_a_provider_without_sms_is_refused_at_load():
    mapping = parse_mapping(SMS_RULES)
    no_sms = FakeProvider(ProviderCapabilities(sms_authentication=False))
    with pytest.raises(ProviderConfigError, match="Rule sms-rule asks for SMS authentication, which FakeSign cannot"):
        check_rules_have_providers(mapping.rules, {"signrequest": no_sms})
    check_rules_have_providers(mapping.rules, {"signrequest": FakeProvider(ProviderCapabilities(
        sms_authentication=True))})
