"""`check-mappings --against-org`, Change Data Capture: can the connector subscribe to Opportunity change events?

It asks the Pub/Sub API about the configured topic (GetTopic, with the connector's own login): whether it
exists and the integration user may subscribe. The answer is a line to print, and whether it is a problem
(only when push triggers are switched on: otherwise it says what switching them on would take).
"""

from __future__ import annotations

from config.settings import Settings
from connector.ports.change_feed import ChangeFeed, ChangeFeedError

SET_UP = ("in Setup > Integrations > Change Data Capture, move Opportunity to Selected Entities (or point "
          "CONNECTOR_SALESFORCE_CDC_TOPIC at a custom channel that holds it), and give the integration user "
          "\"View All Records\" on Opportunity (or \"View All Data\"), which change events require")


def push_trigger_report(settings: Settings, feed: ChangeFeed) -> tuple[str, bool]:
    enabled = settings.salesforce_cdc_enabled
    try:
        available = feed.check()
    except ChangeFeedError as exc:
        if enabled:
            return (f"push triggers: cannot subscribe to {settings.salesforce_cdc_topic}: {exc.message}. To fix: "
                    f"{SET_UP}; or set CONNECTOR_SALESFORCE_CDC_ENABLED=false to find stage changes by polling "
                    "alone"), True
        return (f"push triggers: off (polling every {settings.poll_interval_seconds:.0f}s); Change Data Capture "
                f"is not available for the connector ({exc.message}). To use it: {SET_UP}, then set "
                "CONNECTOR_SALESFORCE_CDC_ENABLED=true"), False
    if enabled:
        return (f"push triggers: on, {available}; polling is a reconciliation sweep every "
                f"{settings.poll_sweep_interval_seconds:.0f}s while events flow"), False
    return (f"push triggers: off, though {available}: set CONNECTOR_SALESFORCE_CDC_ENABLED=true for requests "
            "that leave within a second of the stage change"), False
