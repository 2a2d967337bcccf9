"""A shipped provider is not done without a simulator and a contract harness (ARCHITECTURE.md, Seams)."""

from __future__ import annotations

import importlib

import pytest

from connector.runtime.provider_registry import plugins
from tests.contract.harnesses import HARNESSES

SHIPPED = sorted(name for name, plugin in plugins().items() if plugin.adapter_class.__module__.startswith("adapters."))


def test_the_shipped_providers_are_found():
    assert {"legalsign", "onespan", "signrequest"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_provider_has_a_simulator_and_a_contract_harness(name):
    plugin = plugins()[name]
    assert plugin.simulator, f"{name}: its PLUGIN names no simulator"
    module, _, attribute = plugin.simulator.partition(":")
    assert callable(getattr(importlib.import_module(module), attribute, None)), \
        f"{name}: simulator {plugin.simulator} does not resolve"
    assert name in HARNESSES, f"{name}: no harness in tests/contract/harnesses.py"
