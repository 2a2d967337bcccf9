"""What a signing provider brings to the connector, so that the runtime can find, configure and build it.

Each provider package under `adapters/` exports one `PLUGIN`; the runtime discovers them (see
`connector.runtime.provider_registry`). Adding a provider adds a package and touches no shared file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connector.ports.errors import ConnectorError, ErrorKind
from connector.ports.provider import SigningProvider


class ProviderConfigError(ConnectorError):
    """A provider's settings cannot work (a credential missing, a value it refuses): names the setting."""

    kind = ErrorKind.CONFIG


class ProviderSettings(Protocol):
    """A provider's own settings, read from `CONNECTOR_<NAME>_*` variables."""

    base_url: str
    max_requests_per_second: float

    def configured(self) -> bool:
        """Whether credentials are set: a provider without them is not built."""
        ...

    def secret_values(self) -> list[str]:
        """Every secret among the settings, for the log filter that masks them."""
        ...


@dataclass(frozen=True)
class BuildContext:
    """What the runtime gives every adapter it builds."""

    session: Any  # requests.Session, rate-limited per provider origin by the runtime
    timeout: float
    replay_window_seconds: int
    spool_bytes: int
    require_https_downloads: bool


@dataclass(frozen=True)
class ProviderPlugin:
    name: str  # the `provider:` of a mapping rule, and the `<NAME>` of its settings' prefix
    adapter_class: type[SigningProvider]  # capabilities and languages, known without credentials
    settings_class: Callable[..., ProviderSettings]
    build: Callable[[Any, BuildContext], SigningProvider]  # (its settings, context) -> adapter
    # "module:attribute" of its simulator in the checkout's sandbox/ (never imported by the product).
    simulator: str | None = None

    @property
    def display_name(self) -> str:
        return self.adapter_class.display_name

    @property
    def env_prefix(self) -> str:
        return f"CONNECTOR_{self.name.upper()}_"
