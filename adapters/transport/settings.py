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


def check_host_patterns(patterns: list[str]) -> list[str]:
    """A settings validator for download host allow-lists: a malformed pattern is refused by name."""
    for pattern in patterns:
        split_host_pattern(pattern)
    return patterns
