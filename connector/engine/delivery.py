"""Embedded delivery: can the rule's provider leave a signer un-emailed and hand out the signing link,
and is there a field to write that link to? Checked when the mappings load and again when a request
is planned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from config.settings import WritebackFields
from connector.ports.provider import ProviderCapabilities, SignerDelivery, SignerSpec, SigningProvider
from mappings.loader import MappingError, MappingProblem, locate
from mappings.models import MappingFile


def embedded_delivery_problem(signers: Sequence[SignerSpec] | Sequence[str], capabilities: ProviderCapabilities,
                              provider_label: str) -> str | None:
    """Why these signers' deliveries cannot be sent with this provider, or None."""
    deliveries = [s.delivery if isinstance(s, SignerSpec) else SignerDelivery(s) for s in signers]
    if SignerDelivery.EMBEDDED not in deliveries:
        return None
    if not capabilities.embedded_signing:
        return (f"delivery: embedded is not possible with {provider_label}, which cannot leave a signer un-emailed "
                "and hand out the signing link. Use delivery: email, or a provider with embedded signing.")
    if SignerDelivery.EMAIL in deliveries and not capabilities.mixed_delivery:
        return (f"{provider_label} emails either every signer of a request or none, so an embedded signer cannot "
                "share a request with signers by email. Make every signer embedded, or none.")
    return None


def check_embedded_delivery(mapping: MappingFile, providers: Mapping[str, SigningProvider | type[SigningProvider]],
                            fields: WritebackFields, path: Path | None = None) -> None:
    """Refuse, with located problems, rules whose embedded signer cannot be served."""
    text = path.read_text(encoding="utf-8") if path else ""
    source = str(path) if path else "<mappings>"
    problems = []
    for index, rule in enumerate(mapping.rules):
        internal = rule.internal_signer
        entries: list[tuple[tuple[str | int, ...], str]] = [(("signers", n), s.delivery)
                                                            for n, s in enumerate(rule.signers)]
        if internal:
            entries.append((("internal_signer",), internal.delivery))
        embedded = [where for where, delivery in entries if delivery == "embedded"]
        if not embedded:
            continue
        loc = ("rules", index, *embedded[0], "delivery")
        line, column = locate(text, loc) if text else (1, 1)
        where = ".".join(str(p) for p in loc)
        provider = providers.get(rule.provider)
        if provider is not None:
            problem = embedded_delivery_problem([d for _, d in entries], provider.capabilities, provider.display_name)
            if problem:
                problems.append(MappingProblem(source, line, column, f"rule {rule.id}: {where}: {problem}"))
        if not rule.writeback.resolve(fields.model_dump()).get("signing_url"):
            problems.append(MappingProblem(source, line, column, (
                f"rule {rule.id}: {where}: an embedded signer's link must be written to the opportunity, but no "
                "signing-URL field is set. Set writeback.signing_url in the rule or CONNECTOR_FIELD_SIGNING_URL.")))
    if problems:
        raise MappingError(problems)

