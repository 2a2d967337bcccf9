"""Reminders the connector sends itself, for providers whose API takes no reminder schedule.

A rule's `reminders: {interval_days, count}` goes to a provider that keeps schedules (OneSpan) with
the request. Elsewhere the provider's automatic reminders are turned off and the engine sends one
reminder every `interval_days` after the request was sent, `count` times at most, while the
request waits for signatures. A reminder is sent at most once: after a crash between marking it
and sending it, it counts as sent (a missing reminder beats a doubled one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.ports.provider import ProviderCapabilities
from mappings.models import Rule


@dataclass(frozen=True)
class ConnectorReminders:
    interval: timedelta
    count: int

    def next_due(self, sent_at: datetime, sent_so_far: int) -> datetime | None:
        if sent_so_far >= self.count:
            return None
        return sent_at + self.interval * (sent_so_far + 1)


def connector_reminders(rule: Rule, capabilities: ProviderCapabilities) -> ConnectorReminders | None:
    """The reminders the engine must send for `rule`, or None when the provider sends them (or none are wanted)."""
    if not rule.send_reminders or rule.reminders is None or capabilities.reminder_schedule:
        return None
    return ConnectorReminders(interval=timedelta(days=rule.reminders.interval_days), count=rule.reminders.count)


def schedule_for_provider(rule: Rule, capabilities: ProviderCapabilities) -> tuple[bool, tuple[int, int] | None]:
    """(send_reminders, reminder_schedule) as the provider should be asked for them."""
    if not rule.send_reminders:
        return False, None
    if rule.reminders is None:
        return True, None
    if capabilities.reminder_schedule:
        return True, (rule.reminders.interval_days, rule.reminders.count)
    return False, None  # the connector sends them; the provider's own schedule would double them
