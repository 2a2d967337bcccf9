"""Logs an operator reads: the JSON format with the job's context and secrets masked, polls summed up in one
periodic line at INFO instead of a line each, and what the engine reports to the metrics when a job parks."""

from __future__ import annotations

import io
import json
import logging

from connector.ports.log_context import log_context
from connector.ports.provider import ProviderTransientError
from connector.runtime.logs import JsonFormatter, configure_logging
from connector.store import JobState


def _json_lines(run) -> list[dict]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        run()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_context_and_mask_secrets():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.operator")
    root = logging.getLogger()
    saved, saved_level = list(root.handlers), root.level
    root.handlers = [handler]
    try:
        configure_logging("INFO", ["s3cret-token-value"], "json")
        with log_context(job_id="j1", opportunity_id="006A", provider="onespan", step="new", request_id=None):
            logger.info("called with s3cret-token-value")
        try:
            raise ValueError("boom s3cret-token-value")
        except ValueError:
            logger.exception("failed")
    finally:
        root.handlers = saved
        root.setLevel(saved_level)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines()[:2])
    assert first | {"time": None} == {"time": None, "level": "INFO", "logger": "test.operator",
                                      "message": "called with ***", "job_id": "j1", "opportunity_id": "006A",
                                      "provider": "onespan", "step": "new"}
    assert "job_id" not in second and "ValueError: boom ***" in second["exception"]
    assert "s3cret-token-value" not in stream.getvalue()


def test_polls_log_nothing_at_info_and_the_summary_counts_them(world, caplog):
    daemon = world.daemon()
    world.add_opportunity()
    caplog.set_level(logging.INFO)
    daemon.poll()
    daemon.poll()
    assert not [r for r in caplog.records if r.getMessage().startswith("poll:")]
    daemon.log_summary()
    [summary] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("in the last")]
    assert "2 polls" in summary and "jobs now: 1 new" in summary
    caplog.clear()
    daemon.log_summary()
    [quiet] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("in the last")]
    assert "nothing new" in quiet


def test_a_parked_job_is_counted_with_its_step_and_error_kind(world):
    world.add_opportunity()
    daemon = world.daemon()
    for _ in range(daemon.settings.max_attempts):
        world.provider.fail_next_create = ProviderTransientError("fake", "503")
        daemon.run_once()
        world.clock.advance(hours=2)
    assert daemon.store.list_jobs()[0].state == JobState.PARKED
    text = daemon.metrics.render().decode()
    assert 'connector_job_parkings_total{kind="transient",provider="signrequest",step="new"} 1.0' in text
    assert 'connector_jobs_parked{provider="signrequest",step="new"} 1.0' in text


def test_each_step_logs_with_its_job_context(world):
    opportunity = world.add_opportunity()
    daemon = world.daemon()
    records = _json_lines(daemon.run_once)
    [sent] = [r for r in records if "sent signrequest request" in r["message"]]
    job = daemon.store.list_jobs()[0]
    assert sent | {"time": None} == sent | {"time": None, "job_id": job.id, "opportunity_id": opportunity.id,
                                            "rule": job.rule_id, "provider": "signrequest", "step": "new"}
