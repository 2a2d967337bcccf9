"""`run_connector.py plan --opportunity ID`: what the rules would send for one opportunity.

Reads Salesforce (the opportunity and its files) and nothing else: no request is created, no
field is written, no state is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from connector.documents.selection import PdfLimits
from connector.engine.planner import describe_plan, plan_request
from connector.ports.crm import CRM
from connector.ports.errors import PreparationError
from connector.ports.provider import SigningProvider
from connector.runtime import provider_registry
from connector.triggers.filters import mismatch
from connector.triggers.record_fields import fields_needed
from mappings.models import MappingFile


def missing_hint(provider: str) -> str:
    if provider in provider_registry.names():
        return f"set {provider_registry.plugin(provider).env_prefix}*"
    return f"no provider is called {provider!r}"


def run_plan(*, crm: CRM, providers: dict[str, SigningProvider], mapping: MappingFile, opportunity_id: str,
             limits: PdfLimits, callback_base_url: str, templates_dir: Path | None = None,
             out: Callable[[str], None] = print) -> int:
    opportunity = crm.get_opportunity(opportunity_id, fields_needed(mapping.rules))
    if opportunity is None:
        out(f"Opportunity {opportunity_id} was not found (or the integration user cannot see it).")
        return 1
    out(f"Opportunity {opportunity.name} ({opportunity.id}), stage {opportunity.stage!r}, "
        f"{len(opportunity.contact_roles)} contact role(s), {len(opportunity.files)} file(s)")
    problems = 0
    for rule in mapping.rules:
        now = opportunity.stage in rule.trigger.stages
        when = "matches its current stage" if now else f"would fire on entering {', '.join(rule.trigger.stages)}"
        reason = mismatch(rule.trigger.filter, opportunity)
        if reason:
            out(f"rule {rule.id}: would not fire, its trigger.filter does not match: {reason}")
            continue
        provider = providers.get(rule.provider)
        if provider is None:
            problems += 1
            out(f"rule {rule.id} ({when}): would not send: {rule.provider} is not configured (no credentials "
                f"set: {missing_hint(rule.provider)})")
            continue
        label = provider.display_name
        try:
            spec, documents = plan_request(
                rule, opportunity, download=crm.download_file,
                capabilities=provider.capabilities, provider_label=label, limits=limits, external_id="(dry run)",
                callback_url=f"{callback_base_url}{provider.callback_path()}",
                templates_dir=templates_dir,
            )
        except PreparationError as exc:
            problems += 1
            out(f"rule {rule.id} ({when}): would be refused: {exc.message}")
            continue
        out(f"{describe_plan(rule, spec, documents, label)}\n  ({when})")
    return 1 if problems else 0
