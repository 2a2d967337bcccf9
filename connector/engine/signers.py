"""Signers from the opportunity's contact roles, in the rule's order."""

from __future__ import annotations

import re
from dataclasses import replace

from connector.ports.crm import ContactRole, Opportunity
from connector.ports.errors import PreparationError
from connector.ports.provider import SignerAuth, SignerDelivery, SignerSpec
from mappings.control_chars import describe, first_control, strip_controls
from mappings.models import InternalSigner, SignerRule

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _contact_label(role: ContactRole) -> str:
    name = " ".join(p for p in (role.contact.first_name, role.contact.last_name) if p) or "(no name)"
    return f"{strip_controls(name)} ({role.contact.contact_id})"


def _shown(opportunity: Opportunity) -> str:
    return f"{strip_controls(opportunity.name)} ({opportunity.id})"


def _refuse_controls(fields: dict[str, str | None], record: str, fix: str) -> None:
    """Signer identity (names, email, phone) is refused, never cleaned, when it holds a control character:
    the signature and the audit trail would carry a name that reads differently from the record's, or a
    silently altered one. The error names the record and the field so that it can be corrected there."""
    for field, value in fields.items():
        char = first_control(value)
        if char is not None:
            raise PreparationError(f"{record}: {field} contains a control character ({describe(char)}). {fix}")


def _pick(opportunity: Opportunity, rule: SignerRule) -> ContactRole:
    holders = [r for r in opportunity.contact_roles if (r.role or "").lower() == rule.role.lower()]
    if not holders:
        present = ", ".join(sorted({r.role or "(no role)" for r in opportunity.contact_roles})) or "none"
        raise PreparationError(
            f"Opportunity {opportunity.name} ({opportunity.id}) has no contact with the role "
            f"{rule.role!r} (roles present: {present}). Add a contact role {rule.role!r} to the opportunity."
        )
    holders.sort(key=lambda r: not r.is_primary)
    return holders[0]


def _internal(opportunity: Opportunity, rule: InternalSigner) -> SignerSpec:
    if rule.owner:
        _refuse_controls({"Name": opportunity.owner_name, "Email": opportunity.owner_email},
                         f"User {opportunity.owner_id or '(unknown)'}, the owner of opportunity {_shown(opportunity)} "
                         "who countersigns", "Remove it from the user record.")
        name = (opportunity.owner_name or "").strip()
        if not opportunity.owner_email:
            raise PreparationError(
                f"The owner of opportunity {opportunity.name} ({opportunity.id}) must countersign but has no email "
                "address in Salesforce. Add one to the user, or name another internal signer in the mapping.")
        first, _, last = name.partition(" ")
        email, first_name, last_name = opportunity.owner_email, first, last
    else:
        email, first_name, last_name = rule.email or "", rule.first_name, rule.last_name
    phone = (rule.mobile_phone or "").replace(" ", "") or None
    if rule.auth == "sms" and not (phone and _PHONE.match(phone)):
        raise PreparationError(f"The internal signer {email} needs mobile_phone in international format for SMS "
                               "authentication. Set it in the mapping.")
    return SignerSpec(email=email, first_name=first_name, last_name=last_name, order=0, mobile_phone=phone,
                      auth=SignerAuth(rule.auth), delivery=SignerDelivery(rule.delivery))


def build_signers(opportunity: Opportunity, rules: list[SignerRule],
                  internal: InternalSigner | None = None) -> tuple[SignerSpec, ...]:
    customers = _customers(opportunity, rules)
    if internal is None:
        return customers
    countersigner = _internal(opportunity, internal)
    if countersigner.email.lower() in {s.email.lower() for s in customers}:
        raise PreparationError(f"{countersigner.email} is both a customer signer and the internal signer on "
                               f"opportunity {opportunity.name}. Change one of them.")
    ordered = [countersigner, *customers] if internal.position == "before" else [*customers, countersigner]
    return tuple(replace(signer, order=index) for index, signer in enumerate(ordered, start=1))


def _customers(opportunity: Opportunity, rules: list[SignerRule]) -> tuple[SignerSpec, ...]:
    signers: list[SignerSpec] = []
    seen: set[str] = set()
    for order, rule in enumerate(rules, start=1):
        role = _pick(opportunity, rule)
        contact = role.contact
        identity = {"FirstName": contact.first_name, "LastName": contact.last_name, "Email": contact.email}
        if rule.auth == "sms":  # the phone is sent only for SMS authentication
            identity["MobilePhone"] = contact.mobile_phone
        _refuse_controls(identity,
                         f"Contact {_contact_label(role)}, the {rule.role!r} on opportunity {_shown(opportunity)}",
                         "Remove it on the contact, then move the opportunity to the stage again.")
        email = (role.contact.email or "").strip()
        if not email:
            raise PreparationError(
                f"Contact {_contact_label(role)}, the {rule.role!r} on opportunity {opportunity.name}, has no "
                "email address. Add an email to the contact, then move the opportunity to the stage again."
            )
        if not _EMAIL.match(email):
            raise PreparationError(
                f"Contact {_contact_label(role)} has an invalid email address {email!r}. Correct it on the contact."
            )
        if email.lower() in seen:
            raise PreparationError(
                f"Contact {_contact_label(role)} would sign twice ({rule.role!r} and an earlier role). "
                "Give each signing role a different contact."
            )
        seen.add(email.lower())
        phone = (role.contact.mobile_phone or "").replace(" ", "").replace("-", "") or None
        if rule.auth == "sms" and not (phone and _PHONE.match(phone)):
            raise PreparationError(
                f"Contact {_contact_label(role)} needs a mobile number in international format (+15550100) "
                f"for SMS authentication; found {role.contact.mobile_phone or 'none'}. Update MobilePhone."
            )
        signers.append(SignerSpec(
            email=email,
            first_name=role.contact.first_name or "",
            last_name=role.contact.last_name or "",
            order=order,
            mobile_phone=phone,
            auth=SignerAuth(rule.auth),
            delivery=SignerDelivery(rule.delivery),
        ))
    return tuple(signers)
