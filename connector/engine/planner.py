"""From a rule and an opportunity to the exact request that would be sent.

Shared by the engine (which then sends it) and by `run_connector.py plan` (which only shows it),
so a dry run shows precisely what a real run would do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from connector.documents.formatting import ValueFormat
from connector.documents.pdf_forms import TemplateError, fill
from connector.documents.selection import PdfLimits, check_pdf, check_size, pdf_filename, select_files
from connector.documents.templates import render
from connector.engine.delivery import embedded_delivery_problem
from connector.engine.reminders import schedule_for_provider
from connector.engine.signers import build_signers
from connector.ports.crm import FileRef, Opportunity
from connector.ports.errors import PreparationError
from connector.ports.provider import Blob, DocumentSpec, ProviderCapabilities, SignerSpec, SigningRequestSpec
from mappings.checks import template_file
from mappings.control_chars import strip_controls
from mappings.models import DocumentSelector, Rule, TemplateFill


@dataclass(frozen=True)
class PlannedDocument:
    title: str
    source: str  # the ContentVersion Id, or "template <path>" for a generated document
    size: int
    pages: int
    sha256: str


# A document still to be fetched or generated: the files are chosen (and counted) before any download.
Pending = FileRef | TemplateFill


def _chosen(rule: Rule, opportunity: Opportunity) -> list[Pending]:
    chosen: list[Pending] = []
    for item in rule.documents:
        if not isinstance(item, DocumentSelector):
            chosen.append(item.template)
            continue
        try:
            chosen.extend(select_files(opportunity, item.title_pattern, item.select))
        except PreparationError:
            if item.required:
                raise
    if not chosen:
        raise PreparationError(
            f"Rule {rule.id} has nothing to send for opportunity {opportunity.name} ({opportunity.id}): none of its "
            "optional documents matched a file. Attach the file, or mark one document required or a template.")
    return chosen


def _text(template: str, opportunity: Opportunity, signers: tuple[SignerSpec, ...], formats: ValueFormat, *,
          multiline: bool = False) -> str:
    """A mapping's text with its merge fields filled, without control characters (mappings/control_chars.py).

    Free text is cleaned rather than refused: a right-to-left override or a NUL in an account name or a file
    title is never what someone meant to show a signer, what is left still reads as intended, and the request
    can go out. Signer identity is refused instead (connector/engine/signers.py)."""
    return strip_controls(render(template, opportunity, signers, formats), multiline=multiline)


def _generate(spec: TemplateFill, opportunity: Opportunity, signers: tuple[SignerSpec, ...],
              templates_dir: Path | None, formats: ValueFormat) -> tuple[str, bytes]:
    title = _text(spec.title, opportunity, signers, formats)
    path = template_file(templates_dir, spec.path) if templates_dir else None
    if path is None or not path.is_file():
        raise PreparationError(f"The template {spec.path} for {title!r} is missing from the connector's mapping "
                               "folder. Restore the file, or change the rule's documents.")
    values = {name: _text(text, opportunity, signers, formats, multiline=True) for name, text in spec.fields.items()}
    try:
        return title, fill(path.read_bytes(), values)
    except TemplateError as exc:
        raise PreparationError(f"The template {spec.path} for {title!r} {exc.message}. Replace it with a "
                               "fillable PDF.") from None


def plan_request(rule: Rule, opportunity: Opportunity, *, download: Callable[[str], Blob | bytes],
                 capabilities: ProviderCapabilities, provider_label: str, limits: PdfLimits,
                 external_id: str, callback_url: str,
                 templates_dir: Path | None = None) -> tuple[SigningRequestSpec, list[PlannedDocument]]:
    """The request `rule` would send for `opportunity`; `callback_url` is the provider's full callback URL,
    `templates_dir` the folder template paths are relative to (the mapping file's)."""
    signers = build_signers(opportunity, list(rule.signers), rule.internal_signer)
    if any(s.auth.value == "sms" for s in signers) and not capabilities.sms_authentication:
        raise PreparationError(f"Rule {rule.id} asks for SMS authentication, which {provider_label} cannot do.")
    problem = embedded_delivery_problem(signers, capabilities, provider_label)
    if problem:
        raise PreparationError(f"Rule {rule.id}: {problem}")
    chosen = _chosen(rule, opportunity)
    formats = ValueFormat(rule.language, rule.currency)
    if len(chosen) > 1 and not capabilities.multiple_documents:
        raise PreparationError(
            f"Rule {rule.id} selects {len(chosen)} documents but {provider_label} sends one document per "
            "request. Set documents.select to 'newest', narrow documents.title_pattern, or split the documents "
            "into one rule each."
        )
    documents, planned = [], []
    for item in chosen:
        if isinstance(item, FileRef):
            if item.size is not None:  # the listed size: an oversized file is refused without downloading it
                check_size(item, item.size, limits, opportunity)
            title, source = strip_controls(item.title) or item.version_id, item.version_id
            content = Blob.of(download(item.version_id))
            checked = item
        else:
            title, generated = _generate(item, opportunity, signers, templates_dir, formats)
            content = Blob.of(generated)
            source = f"template {item.path}"
            checked = FileRef(document_id="", version_id=source, title=title, extension="pdf")
        pages = check_pdf(checked, content, limits, opportunity)
        documents.append(DocumentSpec(title=title, filename=pdf_filename(title), blob=content))
        planned.append(PlannedDocument(title, source, content.size, pages, content.sha256))
    send_reminders, reminder_schedule = schedule_for_provider(rule, capabilities)
    spec = SigningRequestSpec(
        external_id=external_id,
        documents=tuple(documents),
        signers=signers,
        subject=_text(rule.subject, opportunity, signers, formats),
        message=_text(rule.message, opportunity, signers, formats, multiline=True),
        callback_url=callback_url,
        expires_in_days=rule.expires_in_days,
        send_reminders=send_reminders,
        reminder_schedule=reminder_schedule,
        language=rule.language,
    )
    return spec, planned


def describe_plan(rule: Rule, spec: SigningRequestSpec, documents: list[PlannedDocument], provider_label: str) -> str:
    lines = [f"rule {rule.id}: would send with {provider_label}"]
    for doc in documents:
        lines.append(f"  document {doc.title!r} ({doc.source}): {doc.size:,} bytes, {doc.pages} page(s), "
                     f"sha256 {doc.sha256}")
    for signer in spec.signers:
        name = f"{signer.first_name} {signer.last_name}".strip()
        lines.append(f"  signer {signer.order}: {name} <{signer.email}> authentication {signer.auth.value}"
                     + (f" ({signer.mobile_phone})" if signer.auth.value == "sms" else "")
                     + (", delivery embedded (link written to the opportunity)"
                        if signer.delivery.value == "embedded" else ""))
    lines.append(f"  subject: {spec.subject}")
    lines.append(f"  message: {spec.message}")
    lines.append(f"  language: {spec.language}")
    deadline = f"expires after {spec.expires_in_days} day(s)" if spec.expires_in_days else "no expiry"
    lines.append(f"  deadline: {deadline}; reminders: {_reminders_text(rule, spec, provider_label)}")
    return "\n".join(lines)


def _reminders_text(rule: Rule, spec: SigningRequestSpec, provider_label: str) -> str:
    if not rule.send_reminders:
        return "off"
    if rule.reminders is None:
        return f"{provider_label}'s own schedule"
    every = f"every {rule.reminders.interval_days} day(s), {rule.reminders.count} time(s) at most"
    return f"{every}, sent by {provider_label}" if spec.reminder_schedule else f"{every}, sent by the connector"
