"""OneSpan Sign: the adapter, its package JSON, status and layout, and its settings (`CONNECTOR_ONESPAN_*`)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from adapters.onespan.adapter import OneSpanProvider
from adapters.transport.settings import ProviderSettingsBase
from connector.ports.plugin import BuildContext, ProviderConfigError, ProviderPlugin


class OneSpanSettings(ProviderSettingsBase):
    model_config = SettingsConfigDict(env_prefix="CONNECTOR_ONESPAN_", env_file=".env", extra="ignore")

    api_key: SecretStr | None = None
    base_url: str = "https://sandbox.esignlive.com"
    callback_key: SecretStr | None = None

    def configured(self) -> bool:
        return bool(self.api_key and self.api_key.get_secret_value())


def build(settings: OneSpanSettings, context: BuildContext) -> OneSpanProvider:
    assert settings.api_key is not None
    if settings.callback_key is None:
        raise ProviderConfigError("OneSpan needs CONNECTOR_ONESPAN_CALLBACK_KEY (a long random value) so that "
                                  "its callbacks can be authenticated.")
    return OneSpanProvider(
        api_key=settings.api_key.get_secret_value(), base_url=settings.base_url,
        callback_key=settings.callback_key.get_secret_value(), session=context.session,
        timeout=context.timeout, replay_window_seconds=context.replay_window_seconds)


PLUGIN = ProviderPlugin(name="onespan", adapter_class=OneSpanProvider, settings_class=OneSpanSettings, build=build,
                        simulator="sandbox.onespan_sim:OneSpanSimulator")
