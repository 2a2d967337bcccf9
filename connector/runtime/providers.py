"""Build the configured signing providers from settings (only those with credentials), and check rules
against them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import requests

from adapters.transport.session import make_session
from config.settings import Settings
from connector.ports.observer import NO_OBSERVER, Observer
from connector.ports.plugin import BuildContext, ProviderConfigError, ProviderSettings
from connector.ports.provider import SigningProvider
from connector.runtime import provider_registry
from connector.runtime.ratelimit import RateLimitedAdapter, RateLimiter
from connector.runtime.shared_ratelimit import SharedRateLimiter
from mappings.loader import MappingProblem, locate

__all__ = ["ProviderConfigError", "build_providers", "check_rules_have_providers", "language_problems",
           "limit_provider_calls"]


def provider_connections(settings: Settings) -> int:
    """Connections kept per provider host: a completing worker downloads two files side by side. A pool smaller
    than the calls in flight opens and drops a connection (a TLS handshake) for each call over it."""
    return settings.workers * (2 if settings.downloads_side_by_side else 1)


def build_providers(settings: Settings, *, session: requests.Session | None = None,
                    require_https_downloads: bool = True, store=None,
                    observer: Observer = NO_OBSERVER) -> dict[str, SigningProvider]:
    """Every registered provider whose credentials are set (connector.runtime.provider_registry). `store`: the
    daemon's state store; on PostgreSQL the providers' rate limits are shared through it by every replica
    (connector.runtime.shared_ratelimit)."""
    session = session or make_session(pool_size=provider_connections(settings))
    context = BuildContext(session=session, timeout=settings.provider_timeout_seconds,
                           replay_window_seconds=settings.webhook_replay_window_seconds,
                           spool_bytes=settings.document_spool_bytes,
                           require_https_downloads=require_https_downloads)
    providers: dict[str, SigningProvider] = {}
    configured: dict[str, ProviderSettings] = {}
    for name, own in provider_registry.all_provider_settings(settings).items():
        if own.configured():
            providers[name] = provider_registry.plugin(name).build(own, context)
            configured[name] = own
    limit_provider_calls(session, settings, providers, store=store, provider_settings=configured, observer=observer)
    return providers


def limit_provider_calls(session: requests.Session, settings: Settings, providers: Mapping[str, SigningProvider],
                         store=None, provider_settings: Mapping[str, ProviderSettings] | None = None,
                         observer: Observer = NO_OBSERVER) -> dict[str, RateLimiter]:
    """Put each provider's API origin on `session` behind its own rate limiter (see connector.runtime.ratelimit);
    with a PostgreSQL `store`, one whose schedule every replica shares (connector.runtime.shared_ratelimit)."""
    shared = store is not None and store.engine.dialect.name == "postgresql"
    limiters: dict[str, RateLimiter] = {}
    for name, provider in providers.items():
        own = (provider_settings or {}).get(name) or provider_registry.provider_settings(settings, name)
        rate = own.max_requests_per_second
        url = urlparse(own.base_url)
        if shared:
            limiters[name] = SharedRateLimiter(provider.display_name, rate or None, slots=store, key=name,
                                               background_share=settings.status_check_share)
        else:
            limiters[name] = RateLimiter(provider.display_name, rate or None,
                                         background_share=settings.status_check_share)
        session.mount(f"{url.scheme}://{url.netloc}/",
                      RateLimitedAdapter(limiters[name], pool_size=provider_connections(settings), provider=name,
                                         observer=observer))
    return limiters


def check_rules_have_providers(stage_rules, providers: dict[str, SigningProvider]) -> None:
    """Refuse rules whose provider is not configured, or cannot do what the rule asks."""
    missing = sorted({rule.provider for rule in stage_rules if rule.provider not in providers})
    known = provider_registry.names()
    unknown = [name for name in missing if name not in known]
    if unknown:
        raise ProviderConfigError(f"The mappings use provider(s) {', '.join(unknown)}, which this connector does "
                                  f"not know (known: {', '.join(known)}). Correct the rules' provider.")
    if missing:
        names = ", ".join(missing)
        prefixes = ", ".join(f"{provider_registry.plugin(name).env_prefix}*" for name in missing)
        raise ProviderConfigError(
            f"The mappings use provider(s) {names} but no credentials are configured for them. "
            f"Set the provider's credentials ({prefixes}) or remove those rules."
        )
    for rule in stage_rules:
        provider = providers[rule.provider]
        wants_sms = any(s.auth == "sms" for s in rule.signers) or bool(
            rule.internal_signer and rule.internal_signer.auth == "sms")
        if wants_sms and not provider.capabilities.sms_authentication:
            raise ProviderConfigError(
                f"Rule {rule.id} asks for SMS authentication, which {provider.display_name} cannot do. "
                "Use auth: email for its signers, or a provider with SMS.")
        check_language(rule, provider)


def language_problem(language: str, provider: SigningProvider | type[SigningProvider]) -> str | None:
    """Why `provider` cannot send in `language`, or None."""
    languages = provider.capabilities.languages
    if languages is None or language in languages or (not languages and language == "en"):
        return None
    if not languages:
        return (f"asks for language {language!r}, but {provider.display_name}'s API has no language setting (its "
                "e-mails and pages use the account's language). Remove language from the rule, or use another "
                "provider.")
    return f"asks for language {language!r}, which {provider.display_name} does not offer (languages: " \
           f"{', '.join(sorted(languages))})."


def check_language(rule, provider: SigningProvider) -> None:
    problem = language_problem(rule.language, provider)
    if problem:
        raise ProviderConfigError(f"Rule {rule.id} {problem}")


def language_problems(mapping, providers: Mapping[str, SigningProvider | type[SigningProvider]],
                      path: Path) -> list[MappingProblem]:
    """`check-mappings`: each rule whose provider cannot send in its language, located at `language`."""
    text = path.read_text(encoding="utf-8")
    problems = []
    for index, rule in enumerate(mapping.rules):
        provider = providers.get(rule.provider)
        problem = language_problem(rule.language, provider) if provider else None
        if problem:
            line, column = locate(text, ("rules", index, "language"))
            problems.append(MappingProblem(str(path), line, column, f"rule {rule.id}: language: {problem}"))
    return problems


def adapter_classes() -> dict[str, type[SigningProvider]]:
    """Each known provider's adapter class: its capabilities are known without credentials (check-mappings)."""
    return {name: plugin.adapter_class for name, plugin in provider_registry.plugins().items()}
