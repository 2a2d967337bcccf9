"""The Outbound Message envelope: what the parser takes, what it refuses and why, and the answers."""

from __future__ import annotations

import defusedxml.ElementTree as SafeET
import pytest

from connector.inbound import outbound_envelope as envelope

ORG = "00D5g000004SbxQEAS"
ACTION = "04k5g0000008Q1hQAE"
OPPORTUNITY = "0065g00001Suvw6QAB"


def _notification(notification_id: str = "04l5g00002lRDRNQA4", sobject_id: str = OPPORTUNITY,
                  sobject_type: str = "sf:Opportunity", extra: str = "") -> str:
    return (f"<Notification><Id>{notification_id}</Id>"
            f'<sObject xsi:type="{sobject_type}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"<sf:Id>{sobject_id}</sf:Id><sf:StageName>Contract Sent</sf:StageName>"
            f'<sf:Amount>142000.0</sf:Amount><sf:Description xsi:nil="true"/>{extra}</sObject></Notification>')


def _message(*notifications: str, org: str = ORG, action: str = ACTION, prolog: str = "") -> bytes:
    body = "".join(notifications) or _notification()
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
            f"<OrganizationId>{org}</OrganizationId><ActionId>{action}</ActionId>"
            '<SessionId xsi:nil="true"/>'
            "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/59.0/00D5g000004SbxQ</EnterpriseUrl>"
            "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/59.0/00D5g000004SbxQ</PartnerUrl>"
            f"{body}</notifications></soapenv:Body></soapenv:Envelope>").encode()


def test_a_message_as_salesforce_sends_it_is_read_in_full():
    message = envelope.parse(_message(_notification(), _notification("04l5g00002lRDRNQA5", "0065g00001Suvw7QAB")))
    assert (message.organization_id, message.action_id) == (ORG, ACTION)
    first, second = message.notifications
    assert (first.id, first.opportunity_id, first.stage) == ("04l5g00002lRDRNQA4", OPPORTUNITY, "Contract Sent")
    assert first.fields == {"Id": OPPORTUNITY, "StageName": "Contract Sent", "Amount": "142000.0",
                            "Description": None}
    assert second.opportunity_id == "0065g00001Suvw7QAB"


def test_org_ids_compare_in_their_15_character_form():
    assert envelope.same_org(ORG, ORG[:15])
    assert not envelope.same_org(ORG, "00D5g000004SbxR")
    assert not envelope.same_org(ORG, ORG.lower())  # the 15-character form is case-sensitive


XXE = '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
LAUGHS = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'


@pytest.mark.parametrize(("body", "reason"), [
    (b"not xml at all", "not well-formed XML"),
    (b"", "not well-formed XML"),
    (_message(prolog=XXE), "DTD or entity"),
    (_message(prolog=LAUGHS), "DTD or entity"),
    (_message(prolog='<!DOCTYPE x SYSTEM "http://attacker.example/x.dtd">'), "DTD or entity"),
    (b'<Envelope xmlns="urn:other"><Body/></Envelope>', "not a SOAP 1.1 Envelope"),
    (b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"/>', "has no Body"),
    (_message().replace(b"http://soap.sforce.com/2005/09/outbound", b"urn:other"), "no notifications element"),
    (_message(org=""), "has no OrganizationId"),
    (_message(org="00D' or 1=1"), "OrganizationId is not a Salesforce Id"),
    (_message(action="x" * 20), "ActionId is not a Salesforce Id"),
    (_message("<Notification><Id>04l5g00002lRDRNQA4</Id></Notification>"), "Notification 1 has no sObject"),
    (_message(_notification(sobject_type="sf:Account")), "not an Opportunity (xsi:type)"),
    (_message(_notification(sobject_id="0015g00000ZkM3hAAF")), "not an Opportunity's"),
    (_message(_notification(sobject_id="006short")), "no Id of Salesforce's form"),
    (_message(_notification(notification_id="04l-1")), "Id is not a Salesforce Id"),
    (_message(_notification(extra="<sf:Account><sf:Name>x</sf:Name></sf:Account>")), "nested"),
    (_message(*[_notification(f"04l5g00002lRD{n:03d}QA4") for n in range(101)]), "at most 100"),
])
def test_anything_else_is_refused_with_a_located_reason(body, reason):
    with pytest.raises(envelope.EnvelopeRejected) as refused:
        envelope.parse(body)
    assert reason in refused.value.reason


def test_a_refusal_never_quotes_the_body():
    with pytest.raises(envelope.EnvelopeRejected) as refused:
        envelope.parse(_message(org="<script>alert(1)</script>".replace("<", "&lt;")))
    assert "script" not in refused.value.reason


def test_the_ack_is_a_notifications_response_with_ack_true():
    root = SafeET.fromstring(envelope.ack())
    ack = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body/{http://soap.sforce.com/2005/09/outbound}"
                    "notificationsResponse/{http://soap.sforce.com/2005/09/outbound}Ack")
    assert ack is not None and ack.text == "true"


def test_a_fault_is_a_soap_fault_whose_string_is_escaped():
    root = SafeET.fromstring(envelope.fault("a <b> & c", client=False))
    fault = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body/{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    assert fault is not None
    assert (fault.findtext("faultcode"), fault.findtext("faultstring")) == ("soapenv:Server", "a <b> & c")
    assert SafeET.fromstring(envelope.fault("x")).find(".//faultcode").text == "soapenv:Client"
