from __future__ import annotations

import hashlib

from connector.admin.plan_command import run_plan
from connector.documents.selection import PdfLimits


def test_plan_shows_documents_signers_and_texts_without_sending(world):
    opportunity = world.add_opportunity()
    daemon = world.daemon()
    lines: list[str] = []
    code = run_plan(crm=world.crm, providers=daemon.providers, mapping=daemon.mappings.current,
                    opportunity_id=opportunity.id, limits=PdfLimits(), callback_base_url="https://c.example",
                    out=lines.append)
    text = "\n".join(lines)
    content = world.crm.file_contents["068" + opportunity.id[3:]]
    assert code == 0
    assert f"sha256 {hashlib.sha256(content).hexdigest()}" in text
    assert "signer 1: Dana Signer <dana@example.com> authentication email" in text
    assert "signer 2: Eli Buyer <eli@example.com>" in text
    assert "subject: Sign Deal 1AAA" in text and "(matches its current stage)" in text
    assert world.provider.create_calls == 0
    assert world.crm.fields == {} and daemon.store.list_jobs() == []


def test_plan_reports_a_refusal_with_its_reason(world):
    opportunity = world.add_opportunity(email=None)
    daemon = world.daemon()
    lines: list[str] = []
    code = run_plan(crm=world.crm, providers=daemon.providers, mapping=daemon.mappings.current,
                    opportunity_id=opportunity.id, limits=PdfLimits(), callback_base_url="https://c.example",
                    out=lines.append)
    assert code == 1
    assert "would be refused" in lines[1] and "has no email address" in lines[1]


def test_plan_for_an_unknown_opportunity(world):
    daemon = world.daemon()
    lines: list[str] = []
    assert run_plan(crm=world.crm, providers=daemon.providers, mapping=daemon.mappings.current,
                    opportunity_id="006000000000009AAA", limits=PdfLimits(), callback_base_url="x",
                    out=lines.append) == 1
    assert "was not found" in lines[0]
