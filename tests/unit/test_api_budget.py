"""The Salesforce API budget guard against the in-memory CRM, whose reported usage the test sets."""

from __future__ import annotations

import json

from connector.admin import cli
from connector.ports.provider import SigningState
from connector.store import JobState

OVER = (13_000, 15_000)  # the default budget is 80%: 12,000 calls
UNDER = (4_000, 15_000)
OPP = "006000000000001AAA"


def _polls(world) -> int:
    return world.crm.calls


def test_over_the_budget_the_poller_widens_its_interval_then_resumes(world):
    daemon = world.daemon()
    world.crm.usage = OVER
    polls = []
    for _ in range(9):  # the scheduler's ticks, every 30 s
        before = _polls(world)
        daemon.poll()
        polls.append(_polls(world) - before)
        world.clock.advance(seconds=30)
    assert polls == [1, 0, 0, 0, 1, 0, 0, 0, 1]  # every 120 s: 4 x 30 s
    world.crm.usage = UNDER
    for _ in range(3):
        before = _polls(world)
        daemon.poll()
        assert _polls(world) - before == 1
        world.clock.advance(seconds=30)


def test_over_the_budget_a_completion_waits_then_is_written_once(world):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    assert job.state == JobState.AWAITING
    world.provider.end(job.request_id, SigningState.COMPLETED)
    world.crm.usage = OVER
    calls = world.crm.calls
    daemon.store.wake_job(job.id)  # as a callback would
    daemon.work()
    waiting = daemon.store.get_job(job.id)
    assert waiting.state == JobState.COMPLETING and waiting.attempts == 0 and waiting.last_error is None
    assert (waiting.next_run_at - world.clock()).total_seconds() == 120
    assert world.crm.calls == calls and not world.crm.attached.get(OPP)
    world.clock.advance(seconds=121)
    daemon.work()  # still over: waits again, nothing written
    assert daemon.store.get_job(job.id).state == JobState.COMPLETING and not world.crm.attached.get(OPP)
    world.crm.usage = UNDER
    world.clock.advance(seconds=121)
    daemon.work()
    done = daemon.store.get_job(job.id)
    assert (done.state, done.outcome) == (JobState.DONE, "completed")
    assert [f.title for f in world.crm.attached[OPP]] == ["Quote Q-1 - signed", "Quote Q-1 - evidence",
                                                          "Quote Q-1 - receipt", "Quote Q-1 - receipt"]
    assert world.crm.fields[OPP]["Signing_Status__c"] == "Completed"


def test_over_the_budget_a_new_job_is_detected_but_sends_later(world):
    world.add_opportunity()
    world.crm.usage = OVER
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    assert job.state == JobState.NEW and world.provider.create_calls == 0
    assert world.crm.calls == 1  # the poll only: the PDF was not downloaded
    world.crm.usage = UNDER
    world.clock.advance(seconds=121)
    daemon.work()
    assert daemon.store.get_job(job.id).state == JobState.AWAITING and world.provider.create_calls == 1


def test_provider_status_checks_go_on_over_the_budget(world):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    world.provider.end(job.request_id, SigningState.DECLINED, reason="No budget")
    world.crm.usage = OVER
    daemon.store.wake_job(job.id)
    daemon.work()
    held = daemon.store.get_job(job.id)
    assert (held.state, held.outcome, held.provider_state) == (JobState.CLOSING, "declined", "declined")


def test_usage_is_refreshed_by_one_call_only_after_a_quiet_spell(world):
    daemon = world.daemon()
    world.crm.usage = OVER
    daemon.check_api_budget()
    world.clock.advance(seconds=299)
    daemon.check_api_budget()
    assert world.crm.usage_refreshes == 0
    daemon.poll()  # a call: the header told us the usage, so the quiet spell starts again
    world.clock.advance(seconds=200)
    daemon.check_api_budget()
    assert world.crm.usage_refreshes == 0
    world.clock.advance(seconds=300)
    daemon.check_api_budget()
    assert world.crm.usage_refreshes == 1
    world.clock.advance(seconds=60)
    daemon.check_api_budget()
    assert world.crm.usage_refreshes == 1


def test_status_and_healthz_show_usage_and_the_guard(world, monkeypatch, capsys):
    daemon = world.daemon()
    world.crm.usage = OVER
    daemon.check_api_budget()
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", world.db_url)
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Salesforce API usage: 13,000 of 15,000 calls in 24 h (87% used, budget 80%)" in out
    assert "OVER BUDGET: polling every 120s" in out
    health = daemon.health()  # what the admin page serves
    assert health["salesforce_api"] | {"observed_at": None} == {
        "used": 13_000, "allocation": 15_000, "budget_share": 0.8, "over_budget": True,
        "poll_interval_seconds": 120.0, "observed_at": None}
    world.crm.usage = UNDER
    daemon.check_api_budget()
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "4,000 of 15,000 calls in 24 h (27% used, budget 80%)" in out and "OVER" not in out
    stored = json.loads(daemon.store.get_value("salesforce_api_budget"))
    assert stored["over_budget"] is False


def test_status_before_any_call_says_usage_is_not_known(world, monkeypatch, capsys):
    world.daemon()
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", world.db_url)
    assert cli.main(["status"]) == 0
    assert "Salesforce API usage: not reported yet" in capsys.readouterr().out
