"""The Outbound Message trigger source: one job per stage entry, notification Ids taken once, and a crash
between the jobs' commit and the Ids' commit redone without a second job."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.triggers.outbound_messages import SOURCE, Notified, OutboundMessageSource


def _source(world):
    daemon = world.daemon()
    return daemon, OutboundMessageSource(store=daemon.store, crm=world.crm, mappings=lambda: daemon.mappings.current)


def test_a_notification_makes_one_job_and_a_redelivery_reads_nothing(world):
    opportunity = world.add_opportunity()
    daemon, source = _source(world)
    first = source.take([Notified("04l000000000001AAA", opportunity.id)])
    calls = world.crm.calls
    again = source.take([Notified("04l000000000001AAA", opportunity.id)])
    assert (first.fresh, first.read, first.created) == (1, 1, 1)
    assert (again.fresh, again.read, again.created) == (0, 0, 0)
    assert world.crm.calls == calls  # the redelivery is answered from the store alone
    assert len(daemon.store.list_jobs()) == 1


def test_two_notifications_of_one_stage_entry_make_one_job(world):
    opportunity = world.add_opportunity()
    daemon, source = _source(world)
    report = source.take([Notified("04l000000000001AAA", opportunity.id),
                          Notified("04l000000000002AAA", opportunity.id)])
    source.take([Notified("04l000000000003AAA", opportunity.id)])  # a later, out-of-order one
    daemon.run_once()  # and the poller sees the same entry
    assert (report.read, report.created) == (1, 1)
    assert len(daemon.store.list_jobs()) == 1


def test_a_crash_before_the_ids_are_marked_is_redone_without_a_second_job(world, monkeypatch):
    opportunity = world.add_opportunity()
    daemon, source = _source(world)

    def crash(*_args):
        raise RuntimeError("killed between the two commits")

    monkeypatch.setattr(daemon.store, "mark_notifications_taken", crash)
    with pytest.raises(RuntimeError):
        source.take([Notified("04l000000000001AAA", opportunity.id)])
    monkeypatch.undo()
    assert daemon.store.taken_notifications(SOURCE, {"04l000000000001AAA"}) == set()
    report = world.daemon().outbound_messages.take([Notified("04l000000000001AAA", opportunity.id)])
    assert (report.fresh, report.created) == (1, 0)
    assert len(daemon.store.list_jobs()) == 1


def test_a_deleted_opportunity_is_taken_and_makes_nothing(world):
    daemon, source = _source(world)
    report = source.take([Notified("04l000000000001AAA", "006000000000404AAA")])
    assert (report.fresh, report.read, report.created) == (1, 0, 0)
    assert daemon.store.taken_notifications(SOURCE, {"04l000000000001AAA"}) == {"04l000000000001AAA"}


def test_taken_ids_are_forgotten_after_the_retention(world):
    opportunity = world.add_opportunity()
    daemon, source = _source(world)
    source.take([Notified("04l000000000001AAA", opportunity.id)])
    world.clock.advance(hours=47)
    assert daemon.prune_notifications() == 0
    world.clock.advance(hours=2)
    assert daemon.prune_notifications() == 1
    assert daemon.store.taken_notifications(SOURCE, {"04l000000000001AAA"}) == set()
    assert timedelta(hours=daemon.settings.outbound_message_ids_retention_hours) == timedelta(hours=48)


def test_the_store_keeps_taken_ids_per_source_once_on_each_database(store):
    store.mark_notifications_taken(SOURCE, ["04l000000000001AAA", "04l000000000001AAA", "04l000000000002AAA"])
    store.mark_notifications_taken(SOURCE, ["04l000000000002AAA"])  # a concurrent redelivery's second commit
    assert store.taken_notifications(SOURCE, {"04l000000000001AAA", "04l000000000003AAA"}) == {"04l000000000001AAA"}
    assert store.taken_notifications("another-source", {"04l000000000001AAA"}) == set()
    assert store.prune_notifications(store.now() + timedelta(seconds=1)) == 2


def test_the_push_lag_is_the_age_of_the_newest_stage_change_a_message_brought(world):
    opportunity = world.add_opportunity()  # entered its stage at the world clock's now
    daemon = world.daemon()
    world.clock.advance(seconds=42)
    daemon.outbound_messages.take([Notified("04l000000000001AAA", opportunity.id)])
    assert "connector_push_lag_seconds 42.0" in daemon.metrics.render().decode()
