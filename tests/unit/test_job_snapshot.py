"""A job's request state and pending effect are typed in the engine and stored as before: old rows still load."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text, update

from connector.store import Effect, Reminder, RequestState
from connector.store.models import JobRow
from connector.store.pending_effect import effect_from_text, effect_to_text

MARKED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
FULL = RequestState(
    titles=("Quote", "Terms"), signers=("dana@example.com", "lee@example.com"), sent_bytes=4096,
    embedded_signer="dana@example.com", provider="signrequest", request_id="req-1", details={"uuid": "u-1"},
    effect_marked_at=MARKED, status_check_at=MARKED, reminders_sent=2, declined_by="lee@example.com",
)
EVERY_EFFECT = [*Effect, Reminder(1), Reminder(12)]


def _job(store):
    return store.create_job(entry_key="r:006:1", rule_id="r", rule={"id": "r"}, provider="signrequest",
                            opportunity_id="006000000000001AAA", opportunity={"id": "006000000000001AAA"})


def _column(store, job_id, name):
    with store.engine.connect() as connection:
        return connection.execute(text(f"SELECT {name} FROM jobs WHERE id = :id"), {"id": job_id}).scalar_one()


def test_the_request_state_round_trips_through_json():
    assert RequestState.from_json(FULL.to_json()) == FULL


def test_an_empty_request_state_is_stored_as_nothing_as_a_new_job_has():
    assert RequestState().to_json() is None
    assert RequestState.from_json(None) == RequestState()


@pytest.mark.parametrize("effect", EVERY_EFFECT, ids=str)
def test_every_pending_effect_keeps_its_stored_string(effect):
    stored = effect_to_text(effect)
    assert stored in {"create", "writeback:sent", "writeback:completed", "writeback:closed", "writeback:failed",
                      "writeback:receipt", "reminder:1", "reminder:12"}
    assert effect_from_text(stored) == effect


def test_the_fixed_effects_compare_equal_to_their_strings():
    assert Effect.CREATE == "create" and Effect.WRITEBACK_SENT == "writeback:sent"
    assert str(Reminder(3)) == "reminder:3"


@pytest.mark.parametrize("effect", EVERY_EFFECT, ids=str)
def test_a_saved_job_loads_with_the_same_state_and_effect(store, effect):
    job = _job(store)
    job.request, job.pending_effect = FULL, effect
    store.save_job(job)
    again = store.get_job(job.id)
    assert (again.request, again.pending_effect) == (FULL, effect)
    assert _column(store, job.id, "pending_effect") == str(effect)


def test_a_row_written_by_an_earlier_version_as_a_dict_of_strings_loads(store):
    job = _job(store)
    legacy = {"titles": ["Quote"], "signers": ["dana@example.com"], "sent_bytes": 4096,
              "embedded_signer": "dana@example.com", "provider": "signrequest", "request_id": "req-1",
              "details": {"uuid": "u-1"}, "effect_marked_at": "2026-03-01T09:30:00+00:00",
              "status_check_at": "2026-03-01T09:30:00+00:00", "reminders_sent": 2, "declined_by": None}
    with store.engine.begin() as connection:  # as earlier versions wrote it: the dict through the JSON column
        connection.execute(update(JobRow).where(JobRow.id == job.id)
                           .values(request_ref=legacy, pending_effect="reminder:2"))
    again = store.get_job(job.id)
    assert again.request == RequestState(
        titles=("Quote",), signers=("dana@example.com",), sent_bytes=4096, embedded_signer="dana@example.com",
        provider="signrequest", request_id="req-1", details={"uuid": "u-1"}, effect_marked_at=MARKED,
        status_check_at=MARKED, reminders_sent=2)
    assert again.pending_effect == Reminder(2)


def test_the_oldest_rows_keep_the_create_mark_under_its_own_name_and_may_lack_keys():
    state = RequestState.from_json({"titles": ["Quote"], "create_marked_at": "2026-03-01T09:30:00"})
    assert state == RequestState(titles=("Quote",), effect_marked_at=MARKED)
