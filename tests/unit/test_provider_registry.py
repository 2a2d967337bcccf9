"""A fourth provider joins through the registry alone: its package (here, this test) brings its adapter, its
settings under their own prefix and its capabilities; no shared production file names it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from adapters.transport.settings import ProviderSettingsBase
from config.settings import Settings
from connector.admin.cli import _secrets
from connector.ports.plugin import BuildContext, ProviderConfigError, ProviderPlugin
from connector.ports.provider import ProviderCapabilities, SigningState
from connector.runtime import provider_registry
from connector.runtime.daemon import bootstrap
from connector.runtime.providers import build_providers, check_rules_have_providers
from connector.store import JobState, Store
from mappings.loader import MappingError, parse_mapping
from tests.fakes import FakeProvider

RULES = """
version: 1
rules:
  - id: quote
    trigger: {stages: ["Contract Sent"]}
    provider: dummy
    documents: {title_pattern: "Quote*"}
    signers: [{role: Decision Maker}, {role: Economic Buyer}]
"""


class DummySign(FakeProvider):
    display_name = "DummySign"
    capabilities = ProviderCapabilities(sms_authentication=True, multiple_documents=True, languages=None)

    def __init__(self, api_key: str, base_url: str):
        super().__init__(capabilities=self.capabilities, name="dummy")
        self.api_key, self.base_url = api_key, base_url


class DummySettings(ProviderSettingsBase):
    model_config = SettingsConfigDict(env_prefix="CONNECTOR_DUMMY_", env_file=".env", extra="ignore")

    api_key: SecretStr | None = None
    base_url: str = "https://api.dummy.example/v1"

    def configured(self) -> bool:
        return self.api_key is not None


BUILT: list[DummySign] = []


def _build(settings: DummySettings, context: BuildContext) -> DummySign:
    assert settings.api_key is not None and context.timeout > 0
    if settings.base_url.startswith("http://"):
        raise ProviderConfigError("DummySign needs an https CONNECTOR_DUMMY_BASE_URL")
    BUILT.append(DummySign(settings.api_key.get_secret_value(), settings.base_url))
    return BUILT[-1]


DUMMY = ProviderPlugin(name="dummy", adapter_class=DummySign, settings_class=DummySettings, build=_build)


@pytest.fixture
def dummy(monkeypatch) -> Iterator[ProviderPlugin]:
    monkeypatch.delenv("CONNECTOR_DUMMY_API_KEY", raising=False)
    BUILT.clear()
    provider_registry.register(DUMMY)
    yield DUMMY
    provider_registry.unregister("dummy")


def test_the_three_shipped_providers_are_found_without_a_list():
    assert {"signrequest", "onespan", "legalsign"} <= set(provider_registry.names())
    assert provider_registry.plugin("onespan").display_name == "OneSpan Sign"
    with pytest.raises(KeyError, match="unknown provider 'docusign'"):
        provider_registry.plugin("docusign")


def test_a_registered_provider_reads_its_own_prefixed_settings(dummy, monkeypatch):
    monkeypatch.setenv("CONNECTOR_DUMMY_API_KEY", "dummy-secret-1234")
    settings = Settings(_env_file=None)
    providers = build_providers(settings)
    assert providers["dummy"] is BUILT[-1]
    assert (BUILT[-1].api_key, BUILT[-1].base_url) == ("dummy-secret-1234", "https://api.dummy.example/v1")
    assert "dummy-secret-1234" in _secrets(settings)  # masked in every log line
    assert "CONNECTOR_DUMMY_API_KEY" in provider_registry.variable_names()["dummy"]


def test_values_given_in_code_override_the_environment(dummy, monkeypatch):
    monkeypatch.setenv("CONNECTOR_DUMMY_API_KEY", "from-env")
    settings = Settings(_env_file=None, dummy_api_key="from-code", dummy_base_url="https://eu.dummy.example/")
    build_providers(settings)
    assert (BUILT[-1].api_key, BUILT[-1].base_url) == ("from-code", "https://eu.dummy.example")


def test_without_credentials_it_is_not_built_and_its_rules_name_its_prefix(dummy):
    settings = Settings(_env_file=None)
    assert "dummy" not in build_providers(settings)
    mapping = parse_mapping(RULES, providers=provider_registry.names())
    with pytest.raises(ProviderConfigError, match=r"dummy but no credentials .*CONNECTOR_DUMMY_\*"):
        check_rules_have_providers(mapping.rules, build_providers(settings))


def test_its_own_config_errors_stop_the_start_with_its_message(dummy):
    settings = Settings(_env_file=None, dummy_api_key="k", dummy_base_url="http://insecure.example")
    with pytest.raises(ProviderConfigError, match="DummySign needs an https CONNECTOR_DUMMY_BASE_URL"):
        build_providers(settings)


def test_mappings_know_it_only_while_it_is_registered(dummy):
    assert parse_mapping(RULES, providers=provider_registry.names()).rules[0].provider == "dummy"
    provider_registry.unregister("dummy")
    with pytest.raises(MappingError, match="unknown provider 'dummy'; known: .*signrequest"):
        parse_mapping(RULES, providers=provider_registry.names())


def test_a_signing_runs_through_it_end_to_end(dummy, tmp_path, monkeypatch):
    from tests.fakes import FakeCRM
    from tests.unit.conftest import Clock, World

    monkeypatch.setenv("CONNECTOR_DUMMY_API_KEY", "dummy-secret-1234")
    clock = Clock()
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/state.db",
                        public_base_url="https://connector.example")
    world = World(FakeCRM(), None, clock, settings.database_url, settings)  # type: ignore[arg-type]
    opportunity = world.add_opportunity()
    store = Store(settings.database_url, clock=clock)
    store.migrate()
    daemon = bootstrap(settings, crm=world.crm, store=store, mapping=parse_mapping(RULES), clock=clock)
    daemon.run_once()
    [provider] = BUILT
    [request] = provider.requests.values()
    assert request.spec.callback_url == "https://connector.example/webhooks/dummy"
    assert [s.email for s in request.spec.signers] == ["dana@example.com", "eli@example.com"]
    provider.end(request.ref.request_id, SigningState.COMPLETED)
    clock.advance(minutes=37)  # the safety-net status check
    daemon.run_once()
    [job] = store.list_jobs()
    assert (job.provider, job.state, job.outcome) == ("dummy", JobState.DONE, "completed")
    assert [f.title for f in world.crm.attached[opportunity.id]] == ["Quote Q-1 - signed", "Quote Q-1 - evidence",
                                                                     "Quote Q-1 - receipt", "Quote Q-1 - receipt"]
    assert world.crm.fields[opportunity.id]["Signing_Status__c"] == "Completed"
