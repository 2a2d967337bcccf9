"""The signing providers this installation knows: every `adapters.<name>` package exporting a `PLUGIN`, every
`esign_connector.providers` entry point, and any registered at run time (tests)."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from config.settings import Settings
from connector.ports.plugin import ProviderConfigError, ProviderPlugin, ProviderSettings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "esign_connector.providers"

_lock = threading.Lock()
_plugins: dict[str, ProviderPlugin] = {}
_discovered = False


class UnknownProvider(KeyError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown provider {self.name!r} (known: {', '.join(names())})"


def _discover() -> None:
    import adapters

    found: list[ProviderPlugin] = []
    for module in pkgutil.iter_modules(adapters.__path__):
        if module.ispkg:
            plugin = getattr(importlib.import_module(f"adapters.{module.name}"), "PLUGIN", None)
            if isinstance(plugin, ProviderPlugin):
                found.append(plugin)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        plugin = entry.load()
        if isinstance(plugin, ProviderPlugin):
            found.append(plugin)
        else:
            log.warning("entry point %s (%s) is not a ProviderPlugin; ignored", entry.name, entry.value)
    for plugin in found:
        _plugins.setdefault(plugin.name, plugin)


def plugins() -> dict[str, ProviderPlugin]:
    """Every known provider, by name, in name order."""
    global _discovered
    with _lock:
        if not _discovered:
            _discover()
            _discovered = True
        return dict(sorted(_plugins.items()))


def names() -> list[str]:
    return list(plugins())


def plugin(name: str) -> ProviderPlugin:
    try:
        return plugins()[name]
    except KeyError:
        raise UnknownProvider(name) from None


def register(new: ProviderPlugin) -> None:
    """Add a provider at run time (a test's, or one an embedding application brings)."""
    plugins()
    with _lock:
        if new.name in _plugins and _plugins[new.name] is not new:
            raise ValueError(f"a provider named {new.name!r} is already registered")
        _plugins[new.name] = new


def unregister(name: str) -> None:
    with _lock:
        _plugins.pop(name, None)


def provider_settings(settings: Settings, name: str) -> ProviderSettings:
    """The provider's own settings: its `CONNECTOR_<NAME>_*` variables, under any values `settings` was given
    in code (`Settings(signrequest_api_token=...)`)."""
    overrides: dict[str, Any] = dict(settings.providers.get(name, {}))
    found = plugin(name)
    try:
        return found.settings_class(_env_file=settings.env_file, **overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{found.env_prefix}{'_'.join(str(p) for p in e['loc'][:1]).upper()}: {e['msg']}"
                             for e in exc.errors())
        raise ProviderConfigError(f"{found.display_name} settings: {problems}") from None


def all_provider_settings(settings: Settings) -> dict[str, ProviderSettings]:
    return {name: provider_settings(settings, name) for name in plugins()}


def variable_names() -> dict[str, list[str]]:
    """Each provider's settings as environment variables (`CONNECTOR_<NAME>_<FIELD>`), by provider."""
    return {name: [f"{plugin.env_prefix}{field.upper()}" for field in _fields(plugin)]
            for name, plugin in plugins().items()}


def _fields(plugin: ProviderPlugin) -> list[str]:
    fields = getattr(plugin.settings_class, "model_fields", {})
    return list(fields)
