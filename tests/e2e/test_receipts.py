"""The signing receipt end to end: SignRequest and Salesforce simulators over HTTP, the real adapters, then
`run_connector.py verify-receipt` on the Files as Salesforce holds them, offline, in a separate process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from connector.store import JobState
from tests.e2e.deals import make_deal, sign
from tests.e2e.status_command import run_status

STAGE = "Contract Sent"
ROOT = Path(__file__).resolve().parents[2]


def _job(e2e, opportunity_id):
    return next(job for job in e2e.daemon.store.list_jobs() if job.opportunity_id == opportunity_id)


def _files(e2e, opportunity_id) -> dict[str, bytes]:
    return {f["filename"]: f["content"] for f in e2e.salesforce.files_on(opportunity_id)}


def _verify(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The command line, in a new process with no settings and no database: what an auditor runs."""
    return subprocess.run([sys.executable, str(ROOT / "run_connector.py"), "verify-receipt", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})


def test_a_completed_and_a_declined_signing_each_get_a_receipt_that_verifies_offline(e2e, tmp_path):
    signed_deal = make_deal(e2e.salesforce, "Globex Renewal")
    e2e.salesforce.set_stage(signed_deal, STAGE)
    e2e.daemon.run_once()
    job = _job(e2e, signed_deal)
    sign(e2e.signrequest, job.request_id, "dana@example.com")
    sign(e2e.signrequest, job.request_id, "eli.globexrenewal@example.com")
    e2e.settle(until=lambda: _job(e2e, signed_deal).state == JobState.DONE)

    declined_deal = make_deal(e2e.salesforce, "Initech Expansion")
    e2e.salesforce.set_stage(declined_deal, STAGE)
    e2e.daemon.run_once()
    declined = _job(e2e, declined_deal)
    e2e.signrequest.decline(declined.request_id, "dana@example.com", "The price is higher than agreed")
    e2e.settle(until=lambda: _job(e2e, declined_deal).state == JobState.DONE)

    first, second = _files(e2e, signed_deal), _files(e2e, declined_deal)
    assert sorted(first) == ["Quote Q-9001 - evidence.pdf", "Quote Q-9001 - receipt.json",
                             "Quote Q-9001 - receipt.pdf", "Quote Q-9001 - signed.pdf", "quote.pdf"]
    assert sorted(second) == ["Quote Q-9001 - receipt.json", "Quote Q-9001 - receipt.pdf", "quote.pdf"]
    completed, refused = json.loads(first["Quote Q-9001 - receipt.json"]), json.loads(second["Quote Q-9001 - receipt.json"])
    assert (completed["outcome"], completed["sequence"], refused["outcome"], refused["sequence"]) == (
        "completed", 1, "declined", 2)
    versions = {f["filename"]: f["version_id"] for f in e2e.salesforce.files_on(signed_deal)}
    assert {f["title"]: f["content_version_id"] for f in completed["files_returned"]} == {
        "Quote Q-9001 - signed": versions["Quote Q-9001 - signed.pdf"],
        "Quote Q-9001 - evidence": versions["Quote Q-9001 - evidence.pdf"]}
    assert completed["documents_sent"][0]["sha256"] == hashlib.sha256(first["quote.pdf"]).hexdigest()
    assert completed["documents_sent"][0]["content_version_id"] == versions["quote.pdf"]
    assert [s["signed_at"] is not None for s in completed["signers"]] == [True, True]  # SignRequest's signed_on
    dana = refused["signers"][0]
    assert (dana["declined"], dana["decline_reason"]) == (True, "The price is higher than agreed")
    assert dana["declined_at"] is not None
    events = [entry["event"] for entry in completed["timeline"]]
    assert events[:2] == ["job_created", "request_sent"] and "callback_received" in events
    assert all(e["authenticated"] for e in completed["timeline"] if e["event"] == "callback_received")

    status = run_status(e2e.daemon.settings, tmp_path)  # the public key is published where admins look
    assert f"receipt key: {completed['seal']['key_id']} Ed25519 public key (base64) " \
           f"{completed['seal']['public_key']}" in status
    assert f"receipts issued: 2, the last sha256 {hashlib.sha256(second['Quote Q-9001 - receipt.json']).hexdigest()}" \
        in status

    paths = {}
    for name, content in {"first.json": first["Quote Q-9001 - receipt.json"],
                          "second.json": second["Quote Q-9001 - receipt.json"],
                          "signed.pdf": first["Quote Q-9001 - signed.pdf"]}.items():
        (tmp_path / name).write_bytes(content)
        paths[name] = str(tmp_path / name)
    key = tmp_path / "key.pem"
    key.write_text(subprocess.run([sys.executable, str(ROOT / "run_connector.py"), "receipt-key"], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=60,
                                  env={"PATH": "/usr/bin:/bin",
                                       "CONNECTOR_RECEIPT_KEY_FILE": str(e2e.daemon.settings.receipt_key_path)}
                                  ).stdout)

    ok = _verify(tmp_path, paths["first.json"], "--signed-pdf", paths["signed.pdf"], "--public-key", str(key))
    assert ok.returncode == 0 and "VALID" in ok.stdout, ok.stdout + ok.stderr
    ok = _verify(tmp_path, paths["second.json"], "--previous", paths["first.json"], "--public-key", str(key))
    assert ok.returncode == 0 and "ok   chain: follows receipt 1" in ok.stdout, ok.stdout + ok.stderr

    # One byte of the receipt: a digit of the signed PDF's size.
    body = (tmp_path / "first.json").read_bytes()
    at = body.index(b'"bytes":') + len(b'"bytes":')
    (tmp_path / "altered.json").write_bytes(body[:at] + bytes([b"1"[0] if body[at] != b"1"[0] else b"2"[0]])
                                            + body[at + 1:])
    bad = _verify(tmp_path, str(tmp_path / "altered.json"))
    assert bad.returncode == 1 and "FAIL seal" in bad.stdout and "INVALID (seal)" in bad.stdout, bad.stdout

    # One byte of the signed PDF.
    pdf = (tmp_path / "signed.pdf").read_bytes()
    (tmp_path / "altered.pdf").write_bytes(pdf[:100] + bytes([pdf[100] ^ 1]) + pdf[101:])
    bad = _verify(tmp_path, paths["first.json"], "--signed-pdf", str(tmp_path / "altered.pdf"))
    assert bad.returncode == 1 and "FAIL signed pdf" in bad.stdout, bad.stdout

    # One byte of the chain: the previous receipt changed, so its hash is not the one the second names.
    (tmp_path / "altered-previous.json").write_bytes(body.replace(b'"outcome":"completed"', b'"outcome":"completes"'))
    bad = _verify(tmp_path, paths["second.json"], "--previous", str(tmp_path / "altered-previous.json"))
    assert bad.returncode == 1 and "FAIL chain" in bad.stdout and "seal is broken" in bad.stdout, bad.stdout
    bad = _verify(tmp_path, paths["first.json"], "--previous", paths["second.json"])
    assert bad.returncode == 1 and "FAIL chain" in bad.stdout and "not the receipt before it" in bad.stdout, bad.stdout
