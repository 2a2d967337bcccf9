from __future__ import annotations

import re

import pytest

from config.settings import REPO_ROOT, Settings, WritebackFields
from connector.ports.plugin import ProviderConfigError
from connector.runtime.provider_registry import provider_settings, variable_names

EXAMPLE = REPO_ROOT / "config" / "example.env"


def test_example_env_documents_every_setting():
    documented = set(re.findall(r"^(CONNECTOR_[A-Z_]+)=", EXAMPLE.read_text(), re.M))
    expected = {f"CONNECTOR_{name.upper()}" for name in Settings.model_fields if name not in ("writeback", "providers")}
    expected |= {variable for names in variable_names().values() for variable in names}
    expected |= {f"CONNECTOR_FIELD_{name.upper()}" for name in WritebackFields.model_fields}
    assert documented == expected


def test_example_env_loads_to_the_defaults(monkeypatch):
    for line in EXAMPLE.read_text().splitlines():
        if line.startswith("CONNECTOR_") and line.split("=", 1)[1]:
            monkeypatch.setenv(*line.split("=", 1))
    loaded = Settings(_env_file=None)
    assert loaded.poll_interval_seconds == Settings.model_fields["poll_interval_seconds"].default == 30
    assert provider_settings(loaded, "signrequest").download_hosts == [
        "signrequest.com", "*.signrequest.com", "signrequest-pro.s3.amazonaws.com"]
    assert provider_settings(loaded, "legalsign").download_hosts == ["*.legalesign.com"]
    assert loaded.writeback.status == "Signing_Status__c"


@pytest.mark.parametrize("pattern", ["files.example.com:99999", "files.example.com:https", "*..example.com", ""])
def test_a_malformed_download_host_pattern_is_refused_at_start_up(pattern):
    with pytest.raises(ProviderConfigError, match="Legalsign settings: CONNECTOR_LEGALSIGN_DOWNLOAD_HOSTS: .*download "
                                                  "host pattern"):
        provider_settings(Settings(_env_file=None, legalsign_download_hosts=[pattern]), "legalsign")


def test_secrets_are_masked_in_repr():
    settings = Settings(_env_file=None, signrequest_api_token="tok-123456", salesforce_client_secret="cs-987654")
    assert "tok-123456" not in repr(settings) and "cs-987654" not in repr(settings)
    own = provider_settings(settings, "signrequest")
    assert own.configured() and own.secret_values() == ["tok-123456"] and "tok-123456" not in repr(own)
