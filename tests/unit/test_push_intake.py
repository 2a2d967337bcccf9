"""The push trigger source's intake: which change events read which opportunities, one query per batch, and
the replay id stored only once the batch's jobs are committed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.ports.change_feed import ChangeBatch, ChangeType, RecordChange
from connector.triggers.push import REPLAY_KEY, ChangeIntake, stored_position
from mappings.loader import parse_mapping
from tests.unit.conftest import RULES

A, B, C = "006000000000001AAA", "006000000000002AAA", "006000000000003AAA"


def stage_change(*ids: str, fields=("StageName", "LastModifiedDate")) -> RecordChange:
    return RecordChange("Opportunity", ChangeType.UPDATE, ids, frozenset(fields))


@pytest.fixture
def intake(world):
    daemon = world.daemon()
    polls = []
    made = ChangeIntake(store=daemon.store, crm=world.crm, mappings=lambda: parse_mapping(RULES),
                        watching_since=world.clock() - timedelta(minutes=1), catch_up=lambda: polls.append(1))
    made.polls = polls
    return made


def test_a_batch_of_stage_changes_is_read_in_one_query_and_makes_one_job_each(world, intake):
    for opp_id in (A, B, C):
        world.add_opportunity(opp_id)
    report = intake.take(ChangeBatch((stage_change(A), stage_change(B, C), stage_change(A)), b"\x00\x07"))
    assert world.crm.batch_reads == [(A, B, C)]
    assert report.created == 3 and report.events == 3
    assert {job.opportunity_id for job in intake.store.list_jobs()} == {A, B, C}
    assert stored_position(intake.store) == b"\x00\x07"


def test_a_replayed_batch_makes_nothing_new(world, intake):
    world.add_opportunity(A)
    batch = ChangeBatch((stage_change(A),), b"\x01")
    assert intake.take(batch).created == 1
    assert intake.take(batch).created == 0
    assert len(intake.store.list_jobs()) == 1


def test_edits_that_do_not_change_the_stage_read_nothing_and_still_advance(world, intake):
    world.add_opportunity(A)
    report = intake.take(ChangeBatch((stage_change(A, fields=("NextStep",)),
                                      RecordChange("Account", ChangeType.UPDATE, ("001X",), frozenset({"Name"}))),
                                     b"\x02"))
    assert world.crm.batch_reads == [] and report.read == 0
    assert intake.store.list_jobs() == []
    assert stored_position(intake.store) == b"\x02"


def test_a_failed_read_stores_no_position_so_the_batch_is_replayed(world, intake):
    world.add_opportunity(A)
    intake.store.set_value(REPLAY_KEY, "01")

    def refuse(*_args, **_kwargs):
        raise RuntimeError("Salesforce is down")

    world.crm.get_opportunities = refuse
    with pytest.raises(RuntimeError):
        intake.take(ChangeBatch((stage_change(A),), b"\x09"))
    assert stored_position(intake.store) == b"\x01"


def test_a_gap_event_rereads_its_records_as_edits_seen_after_the_feed_began(world, intake):
    entered_long_ago = world.add_opportunity(A)
    world.crm.opportunities[A] = entered_long_ago.__class__(**{
        **entered_long_ago.__dict__, "stage_changed_at": world.clock() - timedelta(days=3)})
    world.add_opportunity(B)  # entered just now
    gap = RecordChange("Opportunity", ChangeType.GAP_UPDATE, (A, B))
    report = intake.take(ChangeBatch((gap,), b"\x03"))
    assert world.crm.batch_reads == [(A, B)]
    assert [job.opportunity_id for job in intake.store.list_jobs()] == [B]
    assert report.created == 1


def test_an_overflow_event_asks_for_a_catch_up_poll_before_the_position_moves(world, intake):
    positions = []
    intake.catch_up = lambda: positions.append(stored_position(intake.store))
    overflow = RecordChange("Opportunity", ChangeType.GAP_OVERFLOW, ())
    report = intake.take(ChangeBatch((overflow,), b"\x04"))
    assert report.catch_up and positions == [None]
    assert stored_position(intake.store) == b"\x04"


def test_a_create_in_a_trigger_stage_is_a_stage_entry(world, intake):
    world.add_opportunity(A)
    created = RecordChange("Opportunity", ChangeType.CREATE, (A,), frozenset({"Name", "StageName"}))
    assert intake.take(ChangeBatch((created,), b"\x05")).created == 1
