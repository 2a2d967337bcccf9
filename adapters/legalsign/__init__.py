"""Legalsign (Legalesign's REST API v1): the adapter, its callbacks, and its settings (`CONNECTOR_LEGALSIGN_*`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from adapters.legalsign.adapter import LegalsignProvider
from adapters.transport.settings import DownloadingProviderSettings
from connector.ports.plugin import BuildContext, ProviderConfigError, ProviderPlugin


class LegalsignSettings(DownloadingProviderSettings):
    model_config = SettingsConfigDict(env_prefix="CONNECTOR_LEGALSIGN_", env_file=".env", extra="ignore")

    username: str | None = None
    api_key: SecretStr | None = None
    group: str | None = None
    base_url: str = "https://eu-api.legalesign.com/api/v1"
    callback_secret: SecretStr | None = None
    # Legalesign serves the PDF from its API host (GET /pdf/{id}/); the host of the short-lived link it may
    # redirect to is not documented, so none is trusted by default (the refusal names it; add it then).
    download_hosts: list[str] = Field(default_factory=lambda: ["*.legalesign.com"])
    max_requests_per_second: float = Field(default=100 / 60, ge=0)  # its sandbox allows 100 calls/min

    def configured(self) -> bool:
        return bool(self.api_key and self.api_key.get_secret_value())


def build(settings: LegalsignSettings, context: BuildContext) -> LegalsignProvider:
    assert settings.api_key is not None
    if not (settings.username and settings.group and settings.callback_secret):
        raise ProviderConfigError("Legalsign needs CONNECTOR_LEGALSIGN_USERNAME, CONNECTOR_LEGALSIGN_GROUP and "
                                  "CONNECTOR_LEGALSIGN_CALLBACK_SECRET as well as the API key.")
    return LegalsignProvider(
        username=settings.username, api_key=settings.api_key.get_secret_value(), group=settings.group,
        base_url=settings.base_url, callback_secret=settings.callback_secret.get_secret_value(),
        download_hosts=list(settings.download_hosts), require_https_downloads=context.require_https_downloads,
        session=context.session, timeout=context.timeout, replay_window_seconds=context.replay_window_seconds)


PLUGIN = ProviderPlugin(name="legalsign", adapter_class=LegalsignProvider, settings_class=LegalsignSettings,
                        build=build, simulator="sandbox.legalsign_sim:LegalsignSimulator")
