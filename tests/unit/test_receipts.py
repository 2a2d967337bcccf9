"""The signing receipt over the in-memory fakes: content, seal, chain, exactly-once attach, the rule's switch."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import jsonschema
import pytest

from connector.admin.cli import main
from connector.ports.crm import CRMError
from connector.ports.errors import ErrorKind
from connector.ports.provider import SigningState
from connector.receipts.seal import ReceiptKeyError, SealKey
from connector.receipts.verify import verify_receipt
from connector.store import JobState
from mappings.loader import parse_mapping
from tests.fakes import version_id
from tests.unit.conftest import RULES

OPP = "006000000000001AAA"
SCHEMA = json.loads((Path(__file__).parents[2] / "connector" / "receipts" / "receipt.schema.json").read_text())


def _end(world, state: SigningState, reason: str = "") -> None:
    world.daemon().run_once()
    request_id = next(reversed(world.provider.requests))
    world.provider.end(request_id, state, reason)
    world.clock.advance(minutes=37)  # the safety-net status check
    world.daemon().run_once()


def _receipt_files(world, opp: str = OPP):
    return [f for f in world.crm.attached.get(opp, []) if f.title.endswith(" - receipt")]


def _receipt(world, opp: str = OPP) -> bytes:
    (json_file,) = [f for f in _receipt_files(world, opp) if f.filename.endswith(".json")]
    return json_file.content


def test_a_completed_signing_gets_one_sealed_receipt_as_json_and_pdf(world):
    quote = world.add_opportunity()
    _end(world, SigningState.COMPLETED)
    files = _receipt_files(world)
    assert [(f.title, f.filename) for f in files] == [("Quote Q-1 - receipt", "Quote Q-1 - receipt.json"),
                                                      ("Quote Q-1 - receipt", "Quote Q-1 - receipt.pdf")]
    assert files[1].content.startswith(b"%PDF-")
    body = _receipt(world)
    receipt = json.loads(body)
    jsonschema.validate(receipt, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert all(check.ok for check in verify_receipt(body))
    assert (receipt["sequence"], receipt["previous_receipt_sha256"], receipt["outcome"]) == (1, None, "completed")
    sent = world.crm.file_contents[quote.files[0].version_id]
    assert receipt["documents_sent"] == [{"title": "Quote Q-1", "content_version_id": quote.files[0].version_id,
                                          "template": None, "bytes": len(sent),
                                          "sha256": hashlib.sha256(sent).hexdigest()}]
    attached = {f.title: f for f in world.crm.attached[OPP]}
    returned = {f["title"]: f for f in receipt["files_returned"]}
    for title, kind in (("Quote Q-1 - signed", "signed"), ("Quote Q-1 - evidence", "evidence")):
        assert returned[title] == {"kind": kind, "title": title, "bytes": attached[title].size,
                                   "sha256": attached[title].blob.sha256,
                                   "content_version_id": version_id(attached[title].checksum)}
    assert [(s["order"], s["role"], s["email"], s["signed"]) for s in receipt["signers"]] == [
        (1, "Decision Maker", "dana@example.com", True), (2, "Economic Buyer", "eli@example.com", True)]
    assert receipt["rule"]["id"] == "quote"
    assert [(e["event"], e["detail"]) for e in receipt["timeline"]][2:] == [
        ("written_back", "status Sent written to the opportunity"), ("status_checked", "status check: completed"),
        ("outcome_learnt", "completed"),
        ("written_back", "1 signed file(s) and the evidence attached; status Completed written to the opportunity")]
    assert [e["event"] for e in receipt["timeline"]][:2] == ["job_created", "request_sent"]
    assert receipt["opportunity"] == {"id": OPP, "name": "Deal 1AAA", "stage": "Contract Sent",
                                      "stage_entered_at": "2026-11-24T09:00:00.000Z"}


def test_a_declined_signing_gets_a_receipt_with_who_declined_and_why(world):
    world.add_opportunity()
    _end(world, SigningState.DECLINED, "Price too high")
    receipt = json.loads(_receipt(world))
    assert (receipt["outcome"], receipt["declined_by"], receipt["decline_reason"]) == (
        "declined", "dana@example.com", "Price too high")
    dana = receipt["signers"][0]
    assert (dana["declined"], dana["decline_reason"], dana["signed"]) == (True, "Price too high", False)
    assert receipt["files_returned"] == []


def test_receipts_chain_each_names_the_hash_of_the_one_before(world):
    world.add_opportunity("006000000000001AAA")
    _end(world, SigningState.COMPLETED)
    world.add_opportunity("006000000000002AAA")
    _end(world, SigningState.EXPIRED)
    first, second = _receipt(world, "006000000000001AAA"), _receipt(world, "006000000000002AAA")
    assert json.loads(second)["previous_receipt_sha256"] == hashlib.sha256(first).hexdigest()
    assert json.loads(second)["sequence"] == 2
    assert [c.name for c in verify_receipt(second, previous=first) if c.ok] == ["receipt", "seal", "chain"]
    assert world.daemon().store.receipts.head() == (2, hashlib.sha256(second).hexdigest())


def test_a_lost_reply_to_the_receipt_upload_attaches_it_once_and_keeps_the_chain(world):
    world.add_opportunity()
    world.daemon().run_once()
    world.provider.end(next(iter(world.provider.requests)), SigningState.COMPLETED)
    world.clock.advance(minutes=37)
    attached = world.crm.attached.setdefault(OPP, [])

    def lose_the_receipt_reply(writeback) -> None:
        if any(f.title.endswith(" - receipt") for f in writeback.files):
            world.crm.crash_after_next_apply = CRMError("connection reset", kind=ErrorKind.TRANSIENT)

    world.crm.write_in_flight = lose_the_receipt_reply
    world.daemon().run_once()
    world.crm.write_in_flight = None
    assert len(_receipt_files(world)) == 2  # it landed; the daemon did not hear so
    world.clock.advance(minutes=5)  # past the settle time: it is looked for, found, not sent again
    daemon = world.daemon()
    daemon.run_once()
    (job,) = daemon.store.list_jobs()
    assert (job.state, job.outcome) == (JobState.DONE, "completed")
    assert len(_receipt_files(world)) == 2
    assert len(attached) == 4
    assert [r.sequence for r in daemon.store.receipts.in_order()] == [1]


def test_a_crash_after_sealing_attaches_the_receipt_already_issued(world):
    world.add_opportunity()
    world.daemon().run_once()
    world.provider.end(next(iter(world.provider.requests)), SigningState.COMPLETED)
    world.clock.advance(minutes=37)
    daemon = world.daemon()
    original = daemon.engine.receipts.files

    def crash(job, issued):  # sealed and committed; the process dies before attaching
        raise SystemExit("killed")

    daemon.engine.receipts.files = crash
    with pytest.raises(SystemExit):
        daemon.run_once()
    daemon.engine.receipts.files = original
    world.clock.advance(minutes=2)  # the dead worker's lease and the settle time after it run out
    again = world.daemon()
    again.run_once()
    assert [r.sequence for r in again.store.receipts.in_order()] == [1]
    assert len(_receipt_files(world)) == 2
    issued = next(again.store.receipts.in_order())
    assert issued.body is None and issued.pdf is None  # let go once attached
    assert hashlib.sha256(_receipt(world)).hexdigest() == issued.sha256


def test_a_rule_with_receipt_false_gets_none(world):
    world.mapping = parse_mapping(RULES + "    receipt: false\n")
    world.add_opportunity()
    _end(world, SigningState.COMPLETED)
    assert _receipt_files(world) == []
    assert world.daemon().store.receipts.head() == (0, None)


def test_verify_names_what_changed(world, tmp_path):
    world.add_opportunity("006000000000001AAA")
    _end(world, SigningState.COMPLETED)
    world.add_opportunity("006000000000002AAA")
    _end(world, SigningState.COMPLETED)
    first, second = _receipt(world, "006000000000001AAA"), _receipt(world, "006000000000002AAA")
    signed = next(f for f in world.crm.attached["006000000000002AAA"] if f.title.endswith(" - signed")).content

    def failed(receipt: bytes, **given) -> list[tuple[str, str]]:
        return [(c.name, c.message) for c in verify_receipt(receipt, **given) if not c.ok]

    assert failed(second, previous=first, signed_pdf=signed) == []
    name_at = second.index(b'"name":"Deal 2AAA"') + len('"name":"Deal 2')
    renamed = second[:name_at] + b"3" + second[name_at + 1:]
    assert failed(renamed)[0][0] == "seal" and "altered after it was sealed" in failed(renamed)[0][1]
    spaced = second.replace(b'"outcome":', b'"outcome": ')
    assert "not in its canonical form" in failed(spaced)[0][1]
    changed_pdf = signed[:-2] + bytes([signed[-2] ^ 1]) + signed[-1:]
    assert failed(second, signed_pdf=changed_pdf)[0][0] == "signed pdf"
    other_first = first.replace(b'"sequence":1', b'"sequence":1 ')
    assert failed(second, previous=other_first)[0][0] == "chain"
    assert failed(first, previous=second)[0][0] == "chain"
    other_key = SealKey.generate().public_raw
    assert failed(second, public_key=other_key)[0][0] == "public key"


def test_the_verify_receipt_command_passes_and_fails_with_the_cause(world, tmp_path, capsys):
    world.add_opportunity()
    _end(world, SigningState.COMPLETED)
    receipt, pdf = tmp_path / "r.json", tmp_path / "signed.pdf"
    receipt.write_bytes(_receipt(world))
    pdf.write_bytes(next(f for f in world.crm.attached[OPP] if f.title.endswith(" - signed")).content)
    key = tmp_path / "key.pub"
    key.write_text(SealKey.load(world.settings.receipt_key_path).public_pem())
    assert main(["verify-receipt", str(receipt), "--signed-pdf", str(pdf), "--public-key", str(key)]) == 0
    assert "VALID" in capsys.readouterr().out
    pdf.write_bytes(pdf.read_bytes() + b"\n")
    assert main(["verify-receipt", str(receipt), "--signed-pdf", str(pdf)]) == 1
    out = capsys.readouterr().out
    assert "FAIL signed pdf" in out and "INVALID (signed pdf)" in out
    assert main(["verify-receipt", str(tmp_path / "missing.json")]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_the_key_is_created_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "keys" / "receipt.pem"
    created = SealKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SealKey.load_or_create(path).key_id == created.key_id
    path.write_text("not a key")
    with pytest.raises(ReceiptKeyError, match="cannot be read as a PEM Ed25519 private key"):
        SealKey.load(path)


def test_the_key_lives_next_to_a_sqlite_database_unless_a_file_is_set(monkeypatch, tmp_path):
    from config.settings import Settings

    monkeypatch.delenv("CONNECTOR_RECEIPT_KEY_FILE", raising=False)
    assert Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/state/c.db").receipt_key_path == \
        tmp_path / "state" / "receipt-signing-key.pem"
    assert Settings(_env_file=None, database_url="postgresql+psycopg://h/db").receipt_key_path == \
        Path("receipt-signing-key.pem")
    assert Settings(_env_file=None, receipt_key_file="").receipt_key_file is None
    assert Settings(_env_file=None, receipt_key_file=str(tmp_path / "k.pem")).receipt_key_path == tmp_path / "k.pem"


def test_a_cancelled_signing_gets_a_receipt(world):
    world.add_opportunity()
    _end(world, SigningState.CANCELLED)
    receipt = json.loads(_receipt(world))
    assert (receipt["outcome"], receipt["files_returned"]) == ("cancelled", [])


@pytest.mark.parametrize(("body", "cause"), [
    (b"[1, 2]", "not an esign-connector receipt"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"format": "esign-connector-receipt", "version": 1, "version": 2}', "a key appears twice"),
    (b'{"format": "esign-connector-receipt", "version": 1.5}', "no fractional"),
    (b'{"format": "esign-connector-receipt", "version": 7}', "version 7"),
    (b'{"format": "esign-connector-receipt", "version": 1}', "lacks sequence"),
])
def test_a_hostile_file_is_refused_with_its_cause_never_a_traceback(body, cause):
    [check] = verify_receipt(body)
    assert not check.ok and cause in check.message


def test_a_self_sealed_forgery_with_odd_types_is_refused_not_crashed(world):
    world.add_opportunity()
    _end(world, SigningState.COMPLETED)
    genuine = json.loads(_receipt(world))
    forged = {**genuine, "sequence": "seven"}
    forged.pop("seal")
    body = SealKey.generate().seal(forged)  # sealed, by another key, with a string where a number belongs
    checks = verify_receipt(_receipt(world), previous=body)
    assert checks[-1].name == "chain" and not checks[-1].ok and "sequence is not of its type" in checks[-1].message
    other = SealKey.generate()
    forged_ok = other.seal({k: v for k, v in genuine.items() if k != "seal"})
    assert [c.name for c in verify_receipt(forged_ok, public_key=SealKey.load(
        world.settings.receipt_key_path).public_raw) if not c.ok] == ["public key"]


def test_a_process_with_another_key_refuses_to_start_unless_told_to_rotate(world, tmp_path):
    first = world.daemon()
    chain_key = first.engine.receipts.key.key_id
    other_key = tmp_path / "other-key.pem"
    world.settings = world.settings.model_copy(update={"receipt_key_file": other_key})
    with pytest.raises(ReceiptKeyError) as refused:
        world.daemon()
    message = str(refused.value)
    assert chain_key in message and str(other_key) in message and "CONNECTOR_RECEIPT_KEY_ROTATE" in message
    assert "PRIVATE" not in message

    world.settings = world.settings.model_copy(update={"receipt_key_rotate": True})
    rotated = world.daemon()
    assert rotated.engine.receipts.key.key_id == SealKey.load(other_key).key_id != chain_key
    world.settings = world.settings.model_copy(update={"receipt_key_rotate": False})
    assert world.daemon().engine.receipts.key.key_id == rotated.engine.receipts.key.key_id  # the new key holds
