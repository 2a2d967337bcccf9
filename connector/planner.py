"""From a rule and an opportunity to the exact request that would be sent.

Shared by the engine (which then sends it) and by `run_connector.py plan` (which only shows it),
so a dry run shows precisely what a real run would do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from adapters.base import DocumentSpec, ProviderCapabilities, SigningRequestSpec
from connector.crm import Opportunity
from connector.delivery import embedded_delivery_problem
from connector.documents import PdfLimits, check_pdf, pdf_filename, select_files
from connector.errors import PreparationError
from connector.signers import build_signers
from connector.templates import render
from mappings.models import Rule


@dataclass(frozen=True)
class PlannedDocument:
    title: str
    version_id: str
    size: int
    pages: int
    sha256: str


def plan_request(rule: Rule, opportunity: Opportunity, *, download: Callable[[str], bytes],
                 capabilities: ProviderCapabilities, provider_label: str, limits: PdfLimits,
                 external_id: str, callback_url: str) -> tuple[SigningRequestSpec, list[PlannedDocument]]:
    """The request `rule` would send for `opportunity`; `callback_url` is the provider's full callback URL."""
    signers = build_signers(opportunity, list(rule.signers), rule.internal_signer)
    if any(s.auth.value == "sms" for s in signers) and not capabilities.sms_authentication:
        raise PreparationError(f"Rule {rule.id} asks for SMS authentication, which {provider_label} cannot do.")
    problem = embedded_delivery_problem(signers, capabilities, provider_label)
    if problem:
        raise PreparationError(f"Rule {rule.id}: {problem}")
    files = select_files(opportunity, rule.documents.title_pattern, rule.documents.select)
    if len(files) > 1 and not capabilities.multiple_documents:
        raise PreparationError(
            f"Rule {rule.id} selects {len(files)} files but {provider_label} sends one document per "
            "request. Set documents.select to 'newest' or narrow documents.title_pattern."
        )
    documents, planned = [], []
    for file in files:
        content = download(file.version_id)
        pages = check_pdf(file, content, limits, opportunity)
        documents.append(DocumentSpec(title=file.title, filename=pdf_filename(file.title), content=content))
        planned.append(PlannedDocument(file.title, file.version_id, len(content), pages,
                                       hashlib.sha256(content).hexdigest()))
    spec = SigningRequestSpec(
        external_id=external_id,
        documents=tuple(documents),
        signers=signers,
        subject=render(rule.subject, opportunity),
        message=render(rule.message, opportunity),
        callback_url=callback_url,
        expires_in_days=rule.expires_in_days,
        send_reminders=rule.send_reminders,
    )
    return spec, planned


def describe_plan(rule: Rule, spec: SigningRequestSpec, documents: list[PlannedDocument], provider_label: str) -> str:
    lines = [f"rule {rule.id}: would send with {provider_label}"]
    for doc in documents:
        lines.append(f"  document {doc.title!r} ({doc.version_id}): {doc.size:,} bytes, {doc.pages} page(s), "
                     f"sha256 {doc.sha256}")
    for signer in spec.signers:
        name = f"{signer.first_name} {signer.last_name}".strip()
        lines.append(f"  signer {signer.order}: {name} <{signer.email}> authentication {signer.auth.value}"
                     + (f" ({signer.mobile_phone})" if signer.auth.value == "sms" else "")
                     + (", delivery embedded (link written to the opportunity)"
                        if signer.delivery.value == "embedded" else ""))
    lines.append(f"  subject: {spec.subject}")
    lines.append(f"  message: {spec.message}")
    deadline = f"expires after {spec.expires_in_days} day(s)" if spec.expires_in_days else "no expiry"
    lines.append(f"  deadline: {deadline}; reminders {'on' if spec.send_reminders else 'off'}")
    return "\n".join(lines)
