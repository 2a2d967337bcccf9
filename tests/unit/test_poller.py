from __future__ import annotations

import logging
from dataclasses import replace

from connector.store import JobState


def _reenter_after(world, outcome: str) -> int:
    opportunity = world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    job.state, job.outcome = JobState.DONE, outcome
    daemon.store.save_job(job)
    world.clock.advance(hours=1)
    world.crm.opportunities[opportunity.id] = replace(
        opportunity, system_modstamp=world.clock(), stage_changed_at=world.clock())
    daemon.run_once()
    return len(daemon.store.list_jobs())


def test_reentry_after_a_decline_sends_a_new_request(world):
    assert _reenter_after(world, "declined") == 2


def test_reentry_after_a_completed_signing_does_not_send_again_by_default(world, caplog):
    caplog.set_level(logging.INFO, logger="connector.triggers")
    assert _reenter_after(world, "completed") == 1
    assert "retrigger_after does not list" in caplog.text


def test_edit_while_in_stage_does_not_resend(world):
    opportunity = world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    world.clock.advance(hours=1)
    world.crm.opportunities[opportunity.id] = replace(opportunity, system_modstamp=world.clock())
    daemon.run_once()
    assert len(daemon.store.list_jobs()) == 1
    assert world.provider.create_calls == 1


def _already_in_stage_then_edited(world, on_entry_only: str) -> int:
    from mappings.loader import parse_mapping
    from tests.unit.conftest import RULES

    world.mapping = parse_mapping(RULES.replace(
        'trigger: {stages: ["Contract Sent"]}', f'trigger: {{stages: ["Contract Sent"], on_entry_only: {on_entry_only}}}'))
    opportunity = world.add_opportunity()
    long_ago = world.clock().replace(year=2025)  # entered the stage long before the connector looked
    daemon = world.daemon()
    for _ in range(3):  # edited three times while in the stage
        world.clock.advance(hours=1)
        world.crm.opportunities[opportunity.id] = replace(
            opportunity, stage_changed_at=long_ago, system_modstamp=world.clock())
        daemon.run_once()
    assert len(daemon.store.list_jobs()) == world.provider.create_calls
    return world.provider.create_calls


def test_a_rule_limited_to_entries_ignores_an_opportunity_already_in_the_stage(world):
    assert _already_in_stage_then_edited(world, "true") == 0


def test_a_rule_not_limited_to_entries_fires_once_for_an_opportunity_already_in_the_stage(world):
    assert _already_in_stage_then_edited(world, "false") == 1


def test_late_commit_inside_the_overlap_window_is_seen(world):
    daemon = world.daemon()
    world.add_opportunity("006000000000001AAA")
    daemon.run_once()
    # A record committed after that poll but stamped a minute earlier than the cursor.
    late = world.add_opportunity("006000000000002AAA")
    world.crm.opportunities[late.id] = replace(late, system_modstamp=late.system_modstamp.replace(minute=59, hour=8))
    world.clock.advance(seconds=30)
    daemon.run_once()
    assert {j.opportunity_id for j in daemon.store.list_jobs()} == {"006000000000001AAA", "006000000000002AAA"}


def test_entries_older_than_the_first_lookback_are_ignored(world):
    opportunity = world.add_opportunity()
    world.crm.opportunities[opportunity.id] = replace(
        opportunity, stage_changed_at=world.clock().replace(year=2025))
    world.daemon().run_once()
    assert world.provider.create_calls == 0


def test_one_poll_is_one_crm_call(world):
    for n in range(5):
        world.add_opportunity(f"00600000000000{n}AAA")
    daemon = world.daemon()
    before = world.crm.calls
    daemon.poll()
    assert world.crm.calls - before == 1
    assert len(daemon.store.list_jobs()) == 5


def test_a_poll_asks_the_store_once_per_chunk_not_once_per_opportunity(world):
    from connector.triggers.poller import CHUNK

    for n in range(CHUNK * 2 + 3):
        world.add_opportunity(f"006{n:012d}AAA")
    daemon = world.daemon()
    asked = []
    real = daemon.store.latest_jobs_for
    daemon.store.latest_jobs_for = lambda ids: asked.append(len(ids)) or real(ids)
    daemon.poll()
    assert asked == [CHUNK, CHUNK, 3]
    assert len(daemon.store.list_jobs()) == CHUNK * 2 + 3
    daemon.poll()  # the same rows again (overlap window): nothing new, still one lookup per chunk
    assert asked[3:] == [CHUNK, CHUNK, 3] and len(daemon.store.list_jobs()) == CHUNK * 2 + 3


def test_latest_jobs_for_keeps_the_newest_job_of_each_rule_and_opportunity(world):
    store = world.daemon().store
    first = store.create_job(entry_key="r1:A:1", rule_id="r1", rule={}, provider="fake", opportunity_id="006A",
                             opportunity={})
    world.clock.advance(hours=1)
    store.save_job(replace(first, state=JobState.DONE, outcome="declined"))
    second = store.create_job(entry_key="r1:A:2", rule_id="r1", rule={}, provider="fake", opportunity_id="006A",
                              opportunity={})
    other = store.create_job(entry_key="r2:A:1", rule_id="r2", rule={}, provider="fake", opportunity_id="006A",
                             opportunity={})
    store.create_job(entry_key="r1:B:1", rule_id="r1", rule={}, provider="fake", opportunity_id="006B",
                     opportunity={})
    latest = store.latest_jobs_for(["006A"])
    assert set(latest) == {("r1", "006A"), ("r2", "006A")}
    assert (latest[("r1", "006A")].id, latest[("r1", "006A")].entry_key) == (second.id, "r1:A:2")
    assert latest[("r2", "006A")].id == other.id and latest[("r2", "006A")].state == JobState.NEW
    assert store.latest_jobs_for([]) == {}
