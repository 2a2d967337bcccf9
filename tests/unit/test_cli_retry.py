"""`run_connector.py retry`: the same operation as the admin page's Retry / Re-send after fix."""

from __future__ import annotations

from connector.admin.cli import main
from connector.ports.provider import ProviderTransientError
from connector.store import JobState
from tests.unit.conftest import World


def _refused_and_parked(world: World):
    world.add_opportunity("006000000000001AAA", email=None)  # refused: no email
    world.add_opportunity("006000000000002AAA")
    daemon = world.daemon()
    for _ in range(daemon.settings.max_attempts):
        world.provider.fail_next_create = ProviderTransientError("fake", "503")
        daemon.run_once()
        world.clock.advance(hours=2)
    jobs = {job.opportunity_id: job for job in daemon.store.list_jobs()}
    assert jobs["006000000000001AAA"].outcome == "failed" and jobs["006000000000002AAA"].state == JobState.PARKED
    return daemon, jobs


def test_retry_all_failed_resumes_parked_and_refused_jobs(world: World, monkeypatch, capsys):
    daemon, jobs = _refused_and_parked(world)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", world.db_url)
    assert main(["retry", "--all-failed"]) == 0
    assert capsys.readouterr().out.endswith("resumed 2 job(s)\n")
    refused, parked = (daemon.store.get_job(jobs[o].id) for o in ("006000000000001AAA", "006000000000002AAA"))
    assert (refused.state, refused.outcome, parked.state) == (JobState.NEW, None, JobState.NEW)
    assert main(["retry", "--all-failed"]) == 0
    assert capsys.readouterr().out == "resumed 0 job(s)\n"


def test_retry_of_an_unknown_or_running_job_says_which(world: World, monkeypatch, capsys):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", world.db_url)
    assert main(["retry", "0" * 32]) == 1
    assert capsys.readouterr().err == f"error: there is no job {'0' * 32} (`status` lists the parked ones)\n"
    job = daemon.store.list_jobs()[0]
    assert main(["retry", job.id]) == 1
    assert "is awaiting: only parked jobs and jobs refused before sending" in capsys.readouterr().err
