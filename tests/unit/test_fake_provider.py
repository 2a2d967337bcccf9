"""FakeProvider refuses what its capabilities do not declare, as the real adapters refuse it: before sending
anything. (tests/contract runs the rest of its behaviour against the provider contract.)"""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.ports.provider import (
    DocumentSpec,
    ProviderCapabilities,
    ProviderValidationError,
    SignerAuth,
    SignerDelivery,
    SignerSpec,
    SigningRequestSpec,
)
from sandbox.pdfgen import text_pdf
from tests.fakes import FakeProvider

SPEC = SigningRequestSpec(
    external_id="job-1", documents=(DocumentSpec("Quote", "quote.pdf", text_pdf([["Quote"]])),),
    signers=(SignerSpec("ann@example.com", "Ann", "Signer", 1), SignerSpec("bob@example.com", "Bob", "Buyer", 2)),
    subject="Please sign", message="Thanks", callback_url="https://connector.example/webhooks/fake")
EVERYTHING = ProviderCapabilities(sms_authentication=True, multiple_documents=True, embedded_signing=True,
                                  mixed_delivery=True, languages=None, reminder_schedule=True)


def _last_signer(**changes) -> SigningRequestSpec:
    return replace(SPEC, signers=(SPEC.signers[0], replace(SPEC.signers[1], **changes)))


# What a request asks for, and a provider that cannot do it.
UNDECLARED = {
    "two documents": (replace(SPEC, documents=SPEC.documents * 2), replace(EVERYTHING, multiple_documents=False)),
    "an SMS signer": (_last_signer(auth=SignerAuth.SMS, mobile_phone="+15550100"),
                      replace(EVERYTHING, sms_authentication=False)),
    "an embedded signer": (_last_signer(delivery=SignerDelivery.EMBEDDED),
                           replace(EVERYTHING, embedded_signing=False, mixed_delivery=False)),
    "embedded and emailed signers": (_last_signer(delivery=SignerDelivery.EMBEDDED),
                                     replace(EVERYTHING, mixed_delivery=False)),
    "a language not listed": (replace(SPEC, language="fr"), replace(EVERYTHING, languages=frozenset({"nl"}))),
    "a reminder schedule": (replace(SPEC, reminder_schedule=(3, 2)), replace(EVERYTHING, reminder_schedule=False)),
}


@pytest.mark.parametrize("asked", sorted(UNDECLARED))
def test_a_request_for_what_the_capabilities_do_not_declare_is_refused_and_nothing_is_sent(asked):
    spec, cannot = UNDECLARED[asked]
    refusing = FakeProvider(cannot)
    with pytest.raises(ProviderValidationError):
        refusing.create(spec)
    assert (refusing.requests, refusing.sent_callbacks, refusing.create_calls) == ({}, [], 0)
    able = FakeProvider(EVERYTHING)
    ref = able.create(spec)
    assert able.get_status(ref).external_id == "job-1"


def test_an_sms_signer_without_a_mobile_number_is_refused():
    with pytest.raises(ProviderValidationError, match="mobile number"):
        FakeProvider(EVERYTHING).create(_last_signer(auth=SignerAuth.SMS))


def test_a_signing_url_is_only_for_an_embedded_signer():
    provider = FakeProvider(EVERYTHING)
    ref = provider.create(_last_signer(delivery=SignerDelivery.EMBEDDED))
    assert provider.signing_url(ref, "bob@example.com").startswith("https://")
    with pytest.raises(ProviderValidationError):
        provider.signing_url(ref, "ann@example.com")
    without = FakeProvider(ProviderCapabilities())
    with pytest.raises(ProviderValidationError):
        without.signing_url(without.create(SPEC), "ann@example.com")
