"""The settings every provider has, read from its own `CONNECTOR_<NAME>_*` variables (or `.env`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.transport.http import split_host_pattern


class ProviderSettingsBase(BaseSettings):
    """Subclasses set `model_config` with their `env_prefix` and add their credentials."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    base_url: str
    # Requests a second the connector sends this provider (0: no limit of its own; a 429 still pauses every call
    # to it for its Retry-After). The account's limit: replicas share it.
    max_requests_per_second: float = Field(default=0, ge=0)

    @field_validator("base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def configured(self) -> bool:
        raise NotImplementedError

    def secret_values(self) -> list[str]:
        return [value.get_secret_value() for value in self.__dict__.values()
                if isinstance(value, SecretStr) and value.get_secret_value()]


class DownloadingProviderSettings(ProviderSettingsBase):
    """A provider that hands out links to files on hosts other than its API's: the hosts the connector may
    download from (`*` is one label; a subclass sets the provider's documented hosts as the default)."""

    download_hosts: list[str] = Field(default_factory=list)

    @field_validator("download_hosts")
    @classmethod
    def _known_host_patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            split_host_pattern(pattern)  # a malformed pattern is refused by name
        return patterns
