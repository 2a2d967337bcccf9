"""A rule's own reminder schedule: given to a provider that keeps schedules, sent by the connector elsewhere."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.engine.reminders import connector_reminders, schedule_for_provider
from connector.ports.provider import ProviderCapabilities, ProviderRateLimited, ProviderTransientError
from connector.store import JobState, Reminder
from mappings.loader import MappingError, parse_mapping
from tests.unit.conftest import RULES

SCHEDULED = RULES + "    reminders: {interval_days: 2, count: 2}\n"


def _awaiting_job(world):
    world.mapping = parse_mapping(SCHEDULED)
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    assert job.state == JobState.AWAITING
    return daemon


def _after(world, daemon, **elapsed) -> list[str]:
    world.clock.advance(**elapsed)
    daemon.run_once()
    return list(world.provider.reminders)


def test_the_connector_sends_each_reminder_once_on_schedule_when_the_provider_takes_no_schedule(world):
    daemon = _awaiting_job(world)
    [request] = world.provider.requests.values()
    assert request.spec.send_reminders is False  # the provider's own reminders would double ours
    assert _after(world, daemon, days=1, hours=23) == []
    assert _after(world, daemon, hours=2) == ["req-1"]
    assert _after(world, daemon, hours=12) == ["req-1"]
    assert _after(world, daemon, days=2) == ["req-1", "req-1"]
    assert _after(world, daemon, days=10) == ["req-1", "req-1"]  # count reached


def test_a_reminder_interrupted_after_it_was_counted_is_not_sent_again(world):
    daemon = _awaiting_job(world)
    [job] = daemon.store.list_jobs()
    job.request = replace(job.request, reminders_sent=1)
    job.pending_effect = Reminder(1)
    daemon.store.save_job(job)
    assert _after(world, daemon, days=2, hours=1) == []
    [job] = daemon.store.list_jobs()
    assert job.pending_effect is None
    assert _after(world, daemon, days=2) == ["req-1"]  # the second one, on its own date


def test_a_reminder_the_provider_refused_before_taking_it_is_tried_again(world, monkeypatch):
    daemon = _awaiting_job(world)

    def unavailable(ref):
        raise ProviderRateLimited("fake", "429")

    monkeypatch.setattr(world.provider, "send_reminder", unavailable)
    _after(world, daemon, days=2, hours=1)
    monkeypatch.undo()
    [job] = daemon.store.list_jobs()
    assert job.request.reminders_sent == 0 and job.state == JobState.AWAITING
    assert _after(world, daemon, minutes=30) == ["req-1"]


def test_a_reminder_whose_reply_was_lost_counts_as_sent_and_is_not_sent_twice(world, monkeypatch):
    daemon = _awaiting_job(world)
    send = world.provider.send_reminder

    def sent_then_reset(ref):  # it reached the signer; the answer did not reach us
        send(ref)
        raise ProviderTransientError("fake", "connection reset")

    monkeypatch.setattr(world.provider, "send_reminder", sent_then_reset)
    assert _after(world, daemon, days=2, hours=1) == ["req-1"]
    monkeypatch.undo()
    assert _after(world, daemon, minutes=30) == ["req-1"]
    assert _after(world, daemon, days=2) == ["req-1", "req-1"]  # the second one, on its own date


def test_a_provider_that_keeps_schedules_gets_the_rules_schedule_and_the_connector_stays_quiet():
    rule = parse_mapping(SCHEDULED).rules[0]
    keeps = ProviderCapabilities(reminder_schedule=True)
    assert schedule_for_provider(rule, keeps) == (True, (2, 2))
    assert connector_reminders(rule, keeps) is None
    assert schedule_for_provider(rule, ProviderCapabilities()) == (False, None)
    assert connector_reminders(rule, ProviderCapabilities()).count == 2


def test_without_a_schedule_the_providers_own_reminders_are_used():
    rule = parse_mapping(RULES).rules[0]
    assert schedule_for_provider(rule, ProviderCapabilities()) == (True, None)
    assert connector_reminders(rule, ProviderCapabilities()) is None


def test_a_schedule_with_reminders_off_is_refused_where_it_is_written():
    with pytest.raises(MappingError) as info:
        parse_mapping(SCHEDULED + "    send_reminders: false\n", "rules.yaml")
    assert "send_reminders is false but a reminders schedule is given" in str(info.value)
    with pytest.raises(MappingError) as info:
        parse_mapping(RULES + "    reminders: {interval_days: 0, count: 2}\n", "rules.yaml")
    assert "interval_days" in str(info.value)
