"""Settings of the Outbound Message endpoint: what is refused at start, and the token kept out of logs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.settings import Settings
from connector.admin.cli import _secrets

TOKEN = "om-token-0123456789abcdefghij"
ORG = "00D5g000004SbxQEAS"


def test_the_token_is_masked_in_every_log_line_and_in_repr():
    settings = Settings(_env_file=None, salesforce_org_id=ORG, salesforce_outbound_message_token=TOKEN)
    assert TOKEN in _secrets(settings)
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(("values", "message"), [
    ({"salesforce_outbound_message_token": TOKEN}, "needs CONNECTOR_SALESFORCE_ORG_ID"),
    ({"salesforce_org_id": ORG, "salesforce_outbound_message_token": "short"}, "24 to 200 letters"),
    ({"salesforce_org_id": ORG, "salesforce_outbound_message_token": "a/b" * 10}, "24 to 200 letters"),
    ({"salesforce_org_id": "0015g00000ZkM3hAAF"}, "starting with 00D"),
])
def test_unusable_values_are_refused_at_start(values, message):
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, **values)


def test_action_ids_are_read_comma_separated():
    settings = Settings(_env_file=None, salesforce_outbound_message_action_ids=" 04k5g0000008Q1hQAE, ,04k5g0000008Q1i")
    assert settings.outbound_message_action_ids == frozenset({"04k5g0000008Q1hQAE", "04k5g0000008Q1i"})
