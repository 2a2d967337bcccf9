"""`check-mappings --against-org`, push part: is an outbound message set up to send to this connector?

Read through the Tooling API (WorkflowOutboundMessage): the outbound messages on Opportunity, then each
one's Metadata (the API gives it one record at a time). Whether an active Flow sends the message is not
readable there; the hint says so. The token never appears in what is printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapters.salesforce.queries import outbound_message_metadata, outbound_messages_on
from config.settings import Settings

PATH = "/salesforce/outbound-messages/"
SETUP = 'README "Push triggers: Outbound Messages"'


@dataclass(frozen=True)
class PushFindings:
    problems: list[str]
    notes: list[str]


def check_outbound_messages(settings: Settings, tooling_query: Callable[[str], dict]) -> PushFindings:
    token = settings.salesforce_outbound_message_token
    shown_url = f"{settings.public_base_url}{PATH}<CONNECTOR_SALESFORCE_OUTBOUND_MESSAGE_TOKEN>"
    if token is None:
        return PushFindings([], [f"push by Outbound Message is off (CONNECTOR_SALESFORCE_OUTBOUND_MESSAGE_TOKEN is "
                                 f"not set): stage changes are found by polling only; to have them sent at once, "
                                 f"see {SETUP}"])
    expected = f"{settings.public_base_url}{PATH}{token.get_secret_value()}"
    messages = tooling_query(outbound_messages_on("Opportunity")).get("records") or []
    ours = []
    for message in messages:
        found = tooling_query(outbound_message_metadata(message["Id"]))
        metadata = ((found.get("records") or [{}])[0].get("Metadata")) or {}
        if metadata.get("endpointUrl") == expected:
            ours.append((message, metadata))
    if not ours:
        seen = f" ({len(messages)} on Opportunity send elsewhere)" if messages else ""
        return PushFindings([f"no outbound message on Opportunity sends to this connector{seen}: create one with "
                             f"Endpoint URL {shown_url} and the fields Id and StageName ({SETUP})"], [])
    problems, notes = [], []
    allowed = {action_id[:15] for action_id in settings.outbound_message_action_ids}
    for message, metadata in ours:
        name = f"outbound message {message.get('Name')!r} ({message['Id']})"
        if "Id" not in (metadata.get("fields") or []):
            problems.append(f"{name} does not send the field Id: add it")
        if metadata.get("includeSessionId"):
            notes.append(f"{name} sends a session Id, which the connector does not use: untick Send Session ID")
        if allowed and message["Id"][:15] not in allowed:
            problems.append(f"{name} is not in CONNECTOR_SALESFORCE_OUTBOUND_MESSAGE_ACTION_IDS: its messages would "
                            "be refused (403); add its Id")
        notes.append(f"{name} sends to this connector; make sure an active record-triggered Flow on Opportunity "
                     "(StageName Is Changed) sends it")
    return PushFindings(problems, notes)
