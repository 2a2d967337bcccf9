"""The end-to-end sandbox with faults injected into the simulators, and helpers to finish a signing.

The daemon runs step by step (`tests/e2e/conftest.py`) with short retry delays and a 1 s provider
timeout, so an injected held reply (2 s) times out without slowing the suite down.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connector.store import JobState
from tests.e2e.conftest import E2E, running_e2e
from tests.e2e.deals import make_deal, sign

STAGE = "Contract Sent"  # the SignRequest rule of mappings/rules.yaml
SIGNERS = ("dana@example.com", "eli.{slug}@example.com")
FILES = ("Quote Q-9001", "Quote Q-9001 - signed", "Quote Q-9001 - evidence", "Quote Q-9001 - receipt",
         "Quote Q-9001 - receipt")  # the receipt: its JSON and its PDF


def _quick_callback_retries(sandbox) -> None:
    sandbox.signrequest.sender.retry_delays = (0.05,)


@pytest.fixture
def world(tmp_path):
    # A lost reply is looked for once its call can no longer be on its way: the client timeout after it.
    with running_e2e(tmp_path, _quick_callback_retries, retry_base_seconds=0.05, provider_timeout_seconds=1,
                     salesforce_timeout_seconds=5) as world:
        yield world


def the_job(world: E2E):
    [job] = world.daemon.store.list_jobs()
    return job


def start_deal(world: E2E, name: str) -> str:
    opportunity_id = make_deal(world.salesforce, name)
    world.salesforce.set_stage(opportunity_id, STAGE)
    return opportunity_id


def wait_until_due(world: E2E) -> None:
    """Sleep until the job's next run; the engine's clock is real time."""
    delay = (the_job(world).next_run_at - datetime.now(UTC)).total_seconds()
    time.sleep(max(delay, 0) + 0.05)


def sign_all(world: E2E, name: str) -> None:
    job = the_job(world)
    slug = name.lower().replace(" ", "")
    for email in SIGNERS:
        sign(world.signrequest, job.request_id, email.format(slug=slug))


def done(world: E2E) -> bool:
    return the_job(world).state == JobState.DONE


def assert_completed_once(world: E2E, opportunity_id: str) -> None:
    """One provider request, the job done, and the opportunity Completed with one set of Files and Tasks."""
    job = the_job(world)
    assert (job.state, job.outcome) == (JobState.DONE, "completed")
    assert world.signrequest.create_calls == 1
    assert [d["external_id"] for d in world.signrequest.documents()] == [job.id]
    record = world.salesforce.get_record("Opportunity", opportunity_id)
    assert record["Signing_Status__c"] == "Completed"
    assert record["Signing_Request_Id__c"] == job.request_id and record["Signing_Completed_At__c"]
    assert sorted(f["title"] for f in world.salesforce.files_on(opportunity_id)) == sorted(FILES)
    subjects = [t["Subject"] for t in world.salesforce.tasks_on(opportunity_id)]
    assert subjects == [f"Sent for signature: Quote Q-9001 (SignRequest {job.request_id})",
                        f"Signed: Quote Q-9001 (SignRequest {job.request_id})"]
