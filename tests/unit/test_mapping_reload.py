from __future__ import annotations

import logging
import os

from mappings.source import MappingSource

VALID = """version: 1
rules:
  - id: quote
    trigger: {stages: [%s]}
    provider: signrequest
    signers: [{role: Decision Maker}]
"""


def _write(path, text, tick):
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct mtime even within one clock tick


def test_valid_edit_takes_effect_and_invalid_edit_keeps_the_last_valid(tmp_path, caplog):
    path = tmp_path / "rules.yaml"
    _write(path, VALID % "Contract Sent", 1)
    source = MappingSource(path)
    assert source.current.stages() == ["Contract Sent"]
    assert source.reload_if_changed() is False

    _write(path, VALID % "Proposal", 2)
    assert source.reload_if_changed() is True
    assert source.current.stages() == ["Proposal"]

    _write(path, VALID.replace("provider:", "providr:") % "Closed Won", 3)
    with caplog.at_level(logging.ERROR):
        assert source.reload_if_changed() is False
    assert source.current.stages() == ["Proposal"]
    assert f"{path}:5:5: rule quote: rules.0.providr: unknown key 'providr'" in caplog.text


def test_a_rule_for_an_unconfigured_provider_is_refused_on_reload(tmp_path, caplog):
    path = tmp_path / "rules.yaml"
    _write(path, VALID % "Contract Sent", 1)

    def only_signrequest(mapping):
        if any(r.provider != "signrequest" for r in mapping.rules):
            raise ValueError("provider onespan is not configured")

    source = MappingSource(path, check=only_signrequest)
    _write(path, (VALID % "Proposal").replace("signrequest", "onespan"), 2)
    with caplog.at_level(logging.ERROR):
        assert source.reload_if_changed() is False
    assert source.current.rules[0].provider == "signrequest"
    assert "provider onespan is not configured" in caplog.text


def test_job_keeps_the_rule_it_started_with(world, tmp_path):
    world.add_opportunity()
    daemon = world.daemon()
    daemon.run_once()
    [job] = daemon.store.list_jobs()
    assert job.rule["subject"] == "Sign {{Opportunity.Name}}"
