"""The SOAP 1.1 envelope of a Salesforce Outbound Message, and the answers Salesforce reads.

Salesforce POSTs a `notifications` element (namespace http://soap.sforce.com/2005/09/outbound, the
message's WSDL): OrganizationId, ActionId, SessionId (nil unless the action sends one), EnterpriseUrl,
PartnerUrl, then 1 to 100 Notification elements, each an Id (the notification's, kept across Salesforce's
retries) and an sObject with the fields the admin picked. It retries a message until the answer is a
`notificationsResponse` whose Ack is true.

Parsing is strict and safe: no DTD, no entities (defusedxml), the elements the WSDL requires, Ids of
Salesforce's shape, and an Opportunity in every sObject. Anything else is an `EnvelopeRejected`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - only for the Element type and ParseError; parsing is defusedxml's
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import defusedxml
import defusedxml.ElementTree as SafeET

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100  # maxOccurs in the WSDL
_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_OPPORTUNITY_PREFIX = "006"
CONTENT_TYPE = "text/xml; charset=utf-8"


class EnvelopeRejected(Exception):
    """The body is not an Outbound Message this endpoint takes; `reason` says where, without quoting it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Notification:
    id: str
    opportunity_id: str
    # The fields the message carries, by API name (StageName among them when the admin picked it); None for
    # an empty (nil) one. Read for the log only: the opportunity itself is read again from Salesforce.
    fields: dict[str, str | None] = field(default_factory=dict)

    @property
    def stage(self) -> str | None:
        return self.fields.get("StageName")


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str
    notifications: tuple[Notification, ...]


def same_org(one: str, other: str) -> bool:
    """Org Ids compared in their 15-character, case-sensitive form (Salesforce sends 18)."""
    return one[:15] == other[:15]


def parse(body: bytes) -> OutboundMessage:
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise EnvelopeRejected("the body holds a DTD or entity declaration, which an Outbound Message never "
                               "does") from None
    except (ET.ParseError, ValueError):
        raise EnvelopeRejected("the body is not well-formed XML") from None
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise EnvelopeRejected("the root element is not a SOAP 1.1 Envelope")
    body_element = root.find(f"{{{SOAP_NS}}}Body")
    if body_element is None:
        raise EnvelopeRejected("the Envelope has no Body")
    call = next(iter(body_element), None)
    if call is None or call.tag != f"{{{OUTBOUND_NS}}}notifications":
        raise EnvelopeRejected(f"the Body holds no notifications element in namespace {OUTBOUND_NS}")
    organization_id = _required_id(call, "OrganizationId", "notifications")
    action_id = _required_id(call, "ActionId", "notifications")
    elements = call.findall(f"{{{OUTBOUND_NS}}}Notification")
    if not elements:
        raise EnvelopeRejected("notifications holds no Notification")
    if len(elements) > MAX_NOTIFICATIONS:
        raise EnvelopeRejected(f"notifications holds {len(elements)} Notification elements; at most "
                               f"{MAX_NOTIFICATIONS} are allowed")
    notifications = tuple(_notification(element, position) for position, element in enumerate(elements, 1))
    return OutboundMessage(organization_id, action_id, notifications)


def _notification(element: ET.Element, position: int) -> Notification:
    where = f"Notification {position}"
    notification_id = _required_id(element, "Id", where)
    sobject = element.find(f"{{{OUTBOUND_NS}}}sObject")
    if sobject is None:
        raise EnvelopeRejected(f"{where} has no sObject")
    declared = sobject.get(f"{{{XSI_NS}}}type", "")
    if declared.rpartition(":")[2] != "Opportunity":
        raise EnvelopeRejected(f"{where}: the sObject is not an Opportunity (xsi:type)")
    fields: dict[str, str | None] = {}
    for child in sobject:
        namespace, _, name = child.tag[1:].partition("}")
        if namespace != SOBJECT_NS or len(child):
            raise EnvelopeRejected(f"{where}: the sObject holds an element outside {SOBJECT_NS}, or a nested one")
        nil = child.get(f"{{{XSI_NS}}}nil") in ("true", "1")
        fields[name] = None if nil else (child.text or "")
    opportunity_id = fields.get("Id")
    if not opportunity_id or not _ID.fullmatch(opportunity_id):
        raise EnvelopeRejected(f"{where}: the sObject has no Id of Salesforce's form")
    if not opportunity_id.startswith(_OPPORTUNITY_PREFIX):
        raise EnvelopeRejected(f"{where}: the sObject Id is not an Opportunity's")
    return Notification(notification_id, opportunity_id, fields)


def _required_id(parent: ET.Element, name: str, where: str) -> str:
    element = parent.find(f"{{{OUTBOUND_NS}}}{name}")
    value = (element.text or "").strip() if element is not None else ""
    if not value:
        raise EnvelopeRejected(f"{where} has no {name}")
    if not _ID.fullmatch(value):
        raise EnvelopeRejected(f"{where}: {name} is not a Salesforce Id (15 or 18 letters and digits)")
    return value


_ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?>'
             f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>{{}}</soapenv:Body></soapenv:Envelope>')


def ack() -> bytes:
    """The answer that tells Salesforce every notification in the message was taken."""
    return _ENVELOPE.format(f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack>'
                            "</notificationsResponse>").encode()


def fault(message: str, *, client: bool = True) -> bytes:
    """A SOAP 1.1 Fault: `soapenv:Client` when the message itself is refused, `soapenv:Server` when the
    connector could not take it now (Salesforce retries either way until it gets an Ack)."""
    code = "soapenv:Client" if client else "soapenv:Server"
    return _ENVELOPE.format(f"<soapenv:Fault><faultcode>{code}</faultcode>"
                            f"<faultstring>{escape(message)}</faultstring></soapenv:Fault>").encode()
