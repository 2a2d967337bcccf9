"""SignRequest (API v1): the adapter, its callbacks, and its settings (`CONNECTOR_SIGNREQUEST_*`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from adapters.signrequest.adapter import SignRequestProvider
from adapters.transport.settings import DownloadingProviderSettings
from connector.ports.plugin import BuildContext, ProviderPlugin


class SignRequestSettings(DownloadingProviderSettings):
    model_config = SettingsConfigDict(env_prefix="CONNECTOR_SIGNREQUEST_", env_file=".env", extra="ignore")

    api_token: SecretStr | None = None
    base_url: str = "https://signrequest.com/api/v1"
    from_email: str | None = None
    download_hosts: list[str] = Field(
        default_factory=lambda: ["signrequest.com", "*.signrequest.com", "signrequest-pro.s3.amazonaws.com"])

    def configured(self) -> bool:
        return bool(self.api_token and self.api_token.get_secret_value())


def build(settings: SignRequestSettings, context: BuildContext) -> SignRequestProvider:
    assert settings.api_token is not None
    return SignRequestProvider(
        api_token=settings.api_token.get_secret_value(), base_url=settings.base_url,
        from_email=settings.from_email, download_hosts=list(settings.download_hosts),
        require_https_downloads=context.require_https_downloads, session=context.session,
        timeout=context.timeout, replay_window_seconds=context.replay_window_seconds,
        spool_bytes=context.spool_bytes)


PLUGIN = ProviderPlugin(name="signrequest", adapter_class=SignRequestProvider, settings_class=SignRequestSettings,
                        build=build, simulator="sandbox.signrequest_sim:SignRequestSimulator")
