"""Per-rule field names, stage moves and embedded delivery, through the engine and the in-memory fakes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.ports.provider import ProviderCapabilities, ProviderTransientError, ProviderValidationError, SigningState
from connector.store import JobState
from mappings.loader import MappingError, parse_mapping

OPP = "006000000000001AAA"
RULE = """
version: 1
rules:
  - id: quote
    trigger: {stages: ["Contract Sent"]}
    provider: signrequest
    documents: {title_pattern: "Quote*"}
    signers: [{role: Decision Maker}, {role: Economic Buyer}]
"""
EMBEDDED = {"multiple_documents": True, "embedded_signing": True, "mixed_delivery": True}


@pytest.fixture
def applied(world):
    """Every writeback the CRM receives, in order (each is one Salesforce write), but the signing receipt's."""
    writebacks = []
    original = world.crm.apply

    def recording(writeback):
        if not any(f.title.endswith(" - receipt") for f in writeback.files):
            writebacks.append(writeback)
        return original(writeback)

    world.crm.apply = recording
    world.crm.clock = world.clock
    return writebacks


def _use(world, extra: str, rule: str = RULE) -> None:
    world.mapping = parse_mapping(rule + extra)


def _finish(world, state: SigningState, reason: str = "") -> None:
    request_id = next(iter(world.provider.requests))
    world.provider.end(request_id, state, reason)
    world.clock.advance(minutes=37)
    world.daemon().run_once()


def test_rule_names_replace_the_settings_names_and_null_is_not_written(world, applied):
    _use(world, "    writeback: {status: Deal_Signing__c, request_id: null}\n")
    world.add_opportunity()
    world.daemon().run_once()
    fields = applied[0].fields
    assert fields["Deal_Signing__c"] == "Sent"
    assert "Signing_Status__c" not in fields and "Signing_Request_Id__c" not in fields
    assert fields["Signing_Sent_At__c"] == world.clock()


def test_without_writeback_block_the_writes_are_as_before(world, applied):
    _use(world, "")
    world.add_opportunity()
    world.daemon().run_once()
    assert set(applied[0].fields) == {"Signing_Status__c", "Signing_Request_Id__c", "Signing_Sent_At__c",
                                      "Signing_Completed_At__c", "Signing_Last_Error__c"}
    _finish(world, SigningState.DECLINED, "Too dear")
    assert applied[-1].fields == {"Signing_Status__c": "Declined",
                                  "Signing_Last_Error__c": "Declined by dana@example.com: Too dear"}


def test_decline_fills_the_reason_field_and_moves_the_stage_in_the_same_write(world, applied):
    _use(world, "    writeback: {decline_reason: Signing_Decline_Reason__c}\n"
                "    move_to_stage_on: {declined: Qualification, completed: Closed Won}\n")
    world.add_opportunity()
    world.daemon().run_once()
    _finish(world, SigningState.DECLINED, "Too dear")
    closing = applied[-1]
    assert closing.fields["Signing_Status__c"] == "Declined"
    assert closing.fields["StageName"] == "Qualification"
    assert closing.fields["Signing_Decline_Reason__c"] == "Declined by dana@example.com: Too dear"
    assert closing.fields["Signing_Last_Error__c"] is None
    assert len(applied) == 2  # Sent, then one write for status + reason + stage + Task
    assert world.crm.opportunities[OPP].stage == "Qualification"


def test_the_decline_reason_field_from_the_settings_is_used(world, applied):
    world.settings = world.settings.model_copy(update={"writeback": world.settings.writeback.model_copy(
        update={"decline_reason": "Signing_Decline_Reason__c"})})
    _use(world, "")
    world.add_opportunity()
    world.daemon().run_once()
    assert applied[0].fields["Signing_Decline_Reason__c"] is None  # a new request clears an old reason
    says = world.provider.get_status  # a provider that does not say who declined
    world.provider.get_status = lambda ref: replace(says(ref), declined_by=None)
    _finish(world, SigningState.DECLINED, "No budget")
    assert applied[-1].fields["Signing_Decline_Reason__c"] == "Declined by a signer: No budget"


def test_completion_moves_the_stage_with_the_status_and_files(world, applied):
    _use(world, "    move_to_stage_on: {completed: Closed Won}\n")
    world.add_opportunity()
    world.daemon().run_once()
    _finish(world, SigningState.COMPLETED)
    completing = applied[-1]
    assert (completing.fields["Signing_Status__c"], completing.fields["StageName"]) == ("Completed", "Closed Won")
    assert len(completing.files) == 2


def test_expiry_writes_back_under_the_rule_names_and_moves(world, applied):
    _use(world, "    writeback: {status: Deal_Signing__c}\n    move_to_stage_on: {expired: Qualification}\n")
    world.add_opportunity()
    world.daemon().run_once()
    _finish(world, SigningState.EXPIRED)
    assert applied[-1].fields["Deal_Signing__c"] == "Expired"
    assert applied[-1].fields["StageName"] == "Qualification"
    assert "expired" in applied[-1].fields["Signing_Last_Error__c"]


def test_provider_side_cancel_moves_but_a_cancel_on_stage_is_left_as_the_rep_chose(world, applied):
    _use(world, "    cancel_on: [Closed Lost]\n    move_to_stage_on: {cancelled: Qualification}\n")
    world.add_opportunity("006000000000001AAA")
    world.add_opportunity("006000000000002AAA")
    world.daemon().run_once()
    by_opp = {r.spec.external_id: r for r in world.provider.requests.values()}
    jobs = {j.opportunity_id: j for j in world.daemon().store.list_jobs()}
    world.provider.end(by_opp[jobs["006000000000001AAA"].id].ref.request_id, SigningState.CANCELLED)
    world.clock.advance(minutes=37)
    lost = world.crm.opportunities["006000000000002AAA"]
    world.crm.opportunities[lost.id] = replace(lost, stage="Closed Lost", stage_changed_at=world.clock(),
                                               system_modstamp=world.clock())
    world.daemon().run_once()
    closing = {w.opportunity_id: w.fields for w in applied if w.fields.get("Signing_Status__c") == "Cancelled"}
    assert closing["006000000000001AAA"]["StageName"] == "Qualification"
    assert "StageName" not in closing["006000000000002AAA"]
    assert world.crm.opportunities["006000000000002AAA"].stage == "Closed Lost"


def test_a_move_into_another_rules_trigger_starts_that_rule_once_and_not_this_one(world, applied):
    other = """  - id: terms
    trigger: {stages: [Negotiation]}
    provider: signrequest
    signers: [{role: Decision Maker}]
"""
    _use(world, "    move_to_stage_on: {completed: Negotiation}\n" + other)
    world.add_opportunity()
    world.daemon().run_once()
    _finish(world, SigningState.COMPLETED)
    for _ in range(3):
        world.clock.advance(seconds=30)
        world.daemon().run_once()
    jobs = world.daemon().store.list_jobs()
    assert sorted(j.rule_id for j in jobs) == ["quote", "terms"]
    assert world.provider.create_calls == 2


def test_an_in_flight_job_keeps_the_names_of_the_rule_it_started_with(world, applied):
    _use(world, "    writeback: {status: Old_Status__c}\n")
    world.add_opportunity()
    world.daemon().run_once()
    _use(world, "    writeback: {status: New_Status__c}\n    move_to_stage_on: {completed: Closed Won}\n")
    _finish(world, SigningState.COMPLETED)
    assert applied[-1].fields["Old_Status__c"] == "Completed"
    assert "New_Status__c" not in applied[-1].fields and "StageName" not in applied[-1].fields


def _embedded_rule(world, signer: str = "Economic Buyer") -> None:
    world.provider.capabilities = ProviderCapabilities(**EMBEDDED)
    _use(world, "    writeback: {signing_url: Signing_URL__c}\n",
         RULE.replace(f"{{role: {signer}}}", f"{{role: {signer}, delivery: embedded}}"))


def test_the_embedded_signers_link_is_written_with_sent(world, applied):
    _embedded_rule(world)
    world.add_opportunity()
    world.daemon().run_once()
    request = next(iter(world.provider.requests.values()))
    assert [s.delivery.value for s in request.spec.signers] == ["email", "embedded"]
    assert applied[0].fields["Signing_URL__c"] == f"https://fake.example/sign/{request.ref.request_id}/eli@example.com"
    assert applied[0].fields["Signing_Status__c"] == "Sent"
    assert len(applied) == 1 and world.provider.signing_url_calls == 1


def test_the_link_is_cleared_when_the_request_ends(world, applied):
    _embedded_rule(world)
    world.add_opportunity()
    world.daemon().run_once()
    _finish(world, SigningState.COMPLETED)
    assert applied[-1].fields["Signing_URL__c"] is None


def test_a_crash_after_writing_the_link_rewrites_it_without_a_second_request(world, applied):
    _embedded_rule(world)
    world.add_opportunity()
    world.crm.crash_after_next_apply = ConnectionError("lost reply")
    world.daemon().run_once()
    assert world.daemon().store.list_jobs()[0].pending_effect == "writeback:sent"
    world.clock.advance(minutes=5)
    world.daemon().run_once()
    job = world.daemon().store.list_jobs()[0]
    assert (job.state, job.pending_effect) == (JobState.AWAITING, None)
    assert world.provider.create_calls == 1
    assert [w.fields["Signing_URL__c"] for w in applied] == [applied[0].fields["Signing_URL__c"]] * 2
    assert world.crm.tasks[OPP] == [f"Sent for signature: Quote Q-1 (FakeSign {job.request_id})"]


def test_the_daemon_refuses_to_start_with_embedded_delivery_its_provider_cannot_do(world, applied):
    _embedded_rule(world)
    world.provider.capabilities = ProviderCapabilities(multiple_documents=True)
    world.add_opportunity()
    with pytest.raises(MappingError, match="delivery: embedded is not possible with FakeSign"):
        world.daemon()
    assert world.provider.create_calls == 0


def test_a_refused_link_writes_sent_with_the_problem_and_the_job_carries_on(world, applied):
    _embedded_rule(world)
    world.add_opportunity()

    def refuse(ref, email):
        raise ProviderValidationError("fake", f"{email} has no embed_url")

    world.provider.signing_url = refuse
    world.daemon().run_once()
    job = world.daemon().store.list_jobs()[0]
    assert job.state == JobState.AWAITING
    fields = applied[0].fields
    assert fields["Signing_Status__c"] == "Sent" and fields["Signing_URL__c"] is None
    assert fields["Signing_Last_Error__c"] == (f"FakeSign gave no signing link for eli@example.com: eli@example.com "
                                               f"has no embed_url. Open request {job.request_id} at FakeSign to get "
                                               "the link.")


def test_a_passing_failure_to_get_the_link_is_retried(world, applied):
    _embedded_rule(world)
    world.add_opportunity()
    original, failures = world.provider.signing_url, [ProviderTransientError("fake", "503")]

    def flaky(ref, email):
        if failures:
            raise failures.pop()
        return original(ref, email)

    world.provider.signing_url = flaky
    world.daemon().run_once()
    assert applied == [] and world.daemon().store.list_jobs()[0].state == JobState.SENT
    world.clock.advance(minutes=5)
    world.daemon().run_once()
    assert applied[0].fields["Signing_URL__c"].startswith("https://fake.example/sign/")
    assert world.provider.create_calls == 1
