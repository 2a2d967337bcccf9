"""Build the configured signing providers from settings (only those with credentials)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import requests

from config.settings import Settings
from connector.ports.provider import SigningProvider
from connector.runtime.http import make_session
from connector.runtime.ratelimit import RateLimitedAdapter, RateLimiter
from connector.runtime.shared_ratelimit import SharedRateLimiter
from mappings.loader import MappingProblem, locate


class ProviderConfigError(Exception):
    pass


def build_providers(settings: Settings, *, session: requests.Session | None = None,
                    require_https_downloads: bool = True, store=None) -> dict[str, SigningProvider]:
    """`store`: the daemon's state store; on PostgreSQL the providers' rate limits are shared through it by
    every replica (connector.runtime.shared_ratelimit)."""
    providers: dict[str, SigningProvider] = {}
    session = session or make_session(pool_size=settings.workers)
    if settings.signrequest_api_token:
        from adapters.signrequest.adapter import SignRequestProvider

        providers["signrequest"] = SignRequestProvider(
            api_token=settings.signrequest_api_token.get_secret_value(),
            base_url=settings.signrequest_base_url,
            from_email=settings.signrequest_from_email,
            download_hosts=list(settings.signrequest_download_hosts),
            require_https_downloads=require_https_downloads,
            session=session, timeout=settings.provider_timeout_seconds,
            replay_window_seconds=settings.webhook_replay_window_seconds,
            spool_bytes=settings.document_spool_bytes,
        )
    if settings.onespan_api_key:
        from adapters.onespan.adapter import OneSpanProvider

        if settings.onespan_callback_key is None:
            raise ProviderConfigError("OneSpan needs CONNECTOR_ONESPAN_CALLBACK_KEY (a long random value) so that "
                                      "its callbacks can be authenticated.")
        providers["onespan"] = OneSpanProvider(
            api_key=settings.onespan_api_key.get_secret_value(), base_url=settings.onespan_base_url,
            callback_key=settings.onespan_callback_key.get_secret_value(), session=session,
            timeout=settings.provider_timeout_seconds,
            replay_window_seconds=settings.webhook_replay_window_seconds,
        )
    if settings.legalsign_api_key:
        from adapters.legalsign.adapter import LegalsignProvider

        if not (settings.legalsign_username and settings.legalsign_group and settings.legalsign_callback_secret):
            raise ProviderConfigError("Legalsign needs CONNECTOR_LEGALSIGN_USERNAME, CONNECTOR_LEGALSIGN_GROUP and "
                                      "CONNECTOR_LEGALSIGN_CALLBACK_SECRET as well as the API key.")
        providers["legalsign"] = LegalsignProvider(
            username=settings.legalsign_username, api_key=settings.legalsign_api_key.get_secret_value(),
            group=settings.legalsign_group, base_url=settings.legalsign_base_url,
            callback_secret=settings.legalsign_callback_secret.get_secret_value(),
            download_hosts=list(settings.legalsign_download_hosts), require_https_downloads=require_https_downloads,
            session=session, timeout=settings.provider_timeout_seconds,
            replay_window_seconds=settings.webhook_replay_window_seconds,
        )
    limit_provider_calls(session, settings, providers, store=store)
    return providers


def limit_provider_calls(session: requests.Session, settings: Settings,
                         providers: Mapping[str, SigningProvider], store=None) -> dict[str, RateLimiter]:
    """Put each provider's API origin on `session` behind its own rate limiter (see connector.runtime.ratelimit); with a
    PostgreSQL `store`, one whose schedule every replica shares (connector.runtime.shared_ratelimit)."""
    shared = store is not None and store.engine.dialect.name == "postgresql"
    limits = {
        "signrequest": (settings.signrequest_base_url, settings.signrequest_max_requests_per_second),
        "onespan": (settings.onespan_base_url, settings.onespan_max_requests_per_second),
        "legalsign": (settings.legalsign_base_url, settings.legalsign_max_requests_per_second),
    }
    limiters = {}
    for name, provider in providers.items():
        base_url, rate = limits[name]
        url = urlparse(base_url)
        if shared:
            limiters[name] = SharedRateLimiter(provider.display_name, rate or None, slots=store, key=name,
                                               background_share=settings.status_check_share)
        else:
            limiters[name] = RateLimiter(provider.display_name, rate or None,
                                         background_share=settings.status_check_share)
        session.mount(f"{url.scheme}://{url.netloc}/", RateLimitedAdapter(limiters[name], pool_size=settings.workers))
    return limiters


def check_rules_have_providers(stage_rules, providers: dict[str, SigningProvider]) -> None:
    """Refuse rules whose provider is not configured, or cannot do what the rule asks."""
    missing = sorted({rule.provider for rule in stage_rules if rule.provider not in providers})
    if missing:
        names = ", ".join(missing)
        raise ProviderConfigError(
            f"The mappings use provider(s) {names} but no credentials are configured for them. "
            "Set the provider's credentials (CONNECTOR_SIGNREQUEST_API_TOKEN, CONNECTOR_ONESPAN_API_KEY, "
            "CONNECTOR_LEGALSIGN_API_KEY) or remove "
            "those rules."
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
