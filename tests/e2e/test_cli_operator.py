"""The command line as an operator meets it: run from a directory as a separate process, it finds the sandbox's
settings and state, and every failure is one line on stderr with an exit status, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.settings import REPO_ROOT
from connector.runtime.daemon import bootstrap
from sandbox.runner import start_simulators, write_env_file

ENTRY = str(REPO_ROOT / "run_connector.py")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}


def _run(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, ENTRY, *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _one_clear_line(done: subprocess.CompletedProcess, code: int, *phrases: str) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    for phrase in phrases:
        assert phrase in errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def sandbox_checkout(tmp_path_factory):
    """A directory where `make sandbox` has run: simulators up, its state database and sandbox.env written.
    OneSpan's credentials are left out, as if it were not configured."""
    root = tmp_path_factory.mktemp("checkout")
    state = root / "sandbox-state"
    sandbox = start_simulators(state.resolve(), webhook_port=0)
    daemon = bootstrap(sandbox.settings, http_session=sandbox.http_session)  # migrates the state database
    write_env_file(sandbox.settings, state / "sandbox.env")
    env_file = state / "sandbox.env"
    env_file.write_text("".join(line + "\n" for line in env_file.read_text().splitlines()
                                if not line.startswith("CONNECTOR_ONESPAN_")))
    try:
        yield root, sandbox
    finally:
        daemon.store.close()
        sandbox.stop()


def test_status_finds_the_sandbox_state_and_says_where_from(sandbox_checkout):
    root, _ = sandbox_checkout
    done = _run(root, "status")
    assert done.returncode == 0, done.stderr
    assert "jobs by state: none" in done.stdout and "sandbox-state/sandbox.env" in done.stderr


def test_status_without_a_state_database_says_so_and_creates_none(tmp_path):
    _one_clear_line(_run(tmp_path, "status"), 2, "no state database at connector.db", "make sandbox")
    assert not (tmp_path / "connector.db").exists()


def test_status_watch_refreshes_until_interrupted(sandbox_checkout):
    root, _ = sandbox_checkout
    watch = subprocess.Popen([sys.executable, ENTRY, "status", "--watch", "0.2"], cwd=root, env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    time.sleep(2.5)
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=max(1.0, deadline - time.monotonic()))
    assert watch.returncode == 0, err
    assert out.count("jobs by state:") >= 2 and "Traceback" not in err


def test_plan_says_a_provider_without_credentials_is_not_configured(sandbox_checkout):
    root, sandbox = sandbox_checkout
    deal = next(o["Id"] for o in sandbox.salesforce.records("Opportunity") if o["Name"] == "Contoso - Lab Data Platform")
    done = _run(root, "plan", "--opportunity", deal)
    assert "Traceback" not in done.stderr
    assert "onespan is not configured (no credentials set: set CONNECTOR_ONESPAN_*)" in done.stdout
    assert "SMS authentication" not in done.stdout
    assert "logging in to Salesforce" in done.stderr  # progress, on stderr
    assert done.returncode == 1  # a rule would not send


def test_retry_of_an_unknown_job_says_there_is_none(sandbox_checkout):
    root, _ = sandbox_checkout
    _one_clear_line(_run(root, "retry", "0123456789abcdef"), 1, "there is no job 0123456789abcdef")


def test_plan_without_salesforce_settings(tmp_path):
    _one_clear_line(_run(tmp_path, "plan", "--opportunity", "0065g000B00024yAIA"), 2,
                    "Salesforce is not configured", "CONNECTOR_SALESFORCE_CLIENT_ID")


def test_plan_with_a_malformed_id(tmp_path):
    _one_clear_line(_run(tmp_path, "plan", "--opportunity", "not-an-id"), 2, "'not-an-id' is not an Opportunity Id")


def test_check_mappings_against_the_org_without_settings(tmp_path):
    _one_clear_line(_run(tmp_path, "check-mappings", "--against-org"), 2, "Salesforce is not configured")


def test_an_env_file_that_is_not_there(tmp_path):
    _one_clear_line(_run(tmp_path, "status", "--env-file", "nowhere.env"), 2, "--env-file nowhere.env: no such file")


def test_check_mappings_against_the_sandbox_org_finds_its_settings(sandbox_checkout):
    root, _ = sandbox_checkout
    done = _run(root, "check-mappings", "--against-org")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK against the org" in done.stdout
    assert "reading the Opportunity fields" in done.stderr  # progress while it describes the objects
