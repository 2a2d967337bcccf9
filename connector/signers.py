"""Signers from the opportunity's contact roles, in the rule's order."""

from __future__ import annotations

import re

from adapters.base import SignerAuth, SignerSpec
from connector.crm import ContactRole, Opportunity
from connector.errors import PreparationError
from mappings.models import SignerRule

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _contact_label(role: ContactRole) -> str:
    name = " ".join(p for p in (role.contact.first_name, role.contact.last_name) if p) or "(no name)"
    return f"{name} ({role.contact.contact_id})"


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


def build_signers(opportunity: Opportunity, rules: list[SignerRule]) -> tuple[SignerSpec, ...]:
    signers: list[SignerSpec] = []
    seen: set[str] = set()
    for order, rule in enumerate(rules, start=1):
        role = _pick(opportunity, rule)
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
        ))
    return tuple(signers)
