"""One error base: every error the engine sorts says its kind, and the kind decides the next step."""

from __future__ import annotations

import pytest

from connector.documents.pdf_forms import TemplateError
from connector.engine.job_steps import _ON_FAILURE, _Next
from connector.ports.crm import CRMError
from connector.ports.errors import ConnectorError, ErrorKind, PreparationError
from connector.ports.plugin import ProviderConfigError
from connector.ports.provider import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderNotSent,
    ProviderQuotaError,
    ProviderRateLimited,
    ProviderSendTooLate,
    ProviderTransientError,
    ProviderValidationError,
)
from connector.store import JobState


@pytest.mark.parametrize(("error", "kind", "retriable", "backpressure"), [
    (PreparationError("no signer"), ErrorKind.BAD_INPUT, False, False),
    (TemplateError("is not a readable PDF"), ErrorKind.BAD_INPUT, False, False),
    (ProviderConfigError("a key is missing"), ErrorKind.CONFIG, False, False),
    (ProviderError("P", "refused"), ErrorKind.PERMANENT, False, False),
    (ProviderAuthError("P", "bad key"), ErrorKind.CONFIG, False, False),
    (ProviderQuotaError("P", "no credits"), ErrorKind.CONFIG, False, False),
    (ProviderValidationError("P", "bad email"), ErrorKind.PERMANENT, False, False),
    (ProviderNotFound("P", "gone"), ErrorKind.PERMANENT, False, False),
    (ProviderTransientError("P", "502"), ErrorKind.TRANSIENT, True, False),
    (ProviderNotSent("P", "no connection"), ErrorKind.TRANSIENT, True, False),
    (ProviderRateLimited("P", "429", retry_after=3), ErrorKind.BACKPRESSURE, True, True),
    (ProviderSendTooLate("P", "past the deadline"), ErrorKind.BACKPRESSURE, True, True),
    (CRMError("INVALID_FIELD"), ErrorKind.PERMANENT, False, False),
    (CRMError("timeout", kind=ErrorKind.TRANSIENT), ErrorKind.TRANSIENT, True, False),
    (CRMError("REQUEST_LIMIT_EXCEEDED", kind=ErrorKind.BACKPRESSURE), ErrorKind.BACKPRESSURE, True, True),
])
def test_every_error_is_a_connector_error_of_one_kind(error, kind, retriable, backpressure):
    assert isinstance(error, ConnectorError)
    assert (error.kind, error.retriable, error.backpressure) == (kind, retriable, backpressure)


def test_messages_are_kept():
    error = ProviderRateLimited("SignRequest", "429 Too Many Requests", retry_after=120)
    assert (str(error), error.message, error.retry_after) == ("SignRequest: 429 Too Many Requests",
                                                              "429 Too Many Requests", 120)
    assert str(CRMError("Salesforce refused", code="INVALID_FIELD")) == "Salesforce refused"
    assert str(PreparationError("no signer")) == PreparationError("no signer").message == "no signer"


def test_the_engine_has_a_next_step_for_every_kind():
    assert set(_ON_FAILURE) == set(ErrorKind)
    assert _ON_FAILURE == {
        ErrorKind.BAD_INPUT: _Next.REFUSE,
        ErrorKind.CONFIG: _Next.STOP,
        ErrorKind.PERMANENT: _Next.STOP,
        ErrorKind.TRANSIENT: _Next.RETRY,
        ErrorKind.BACKPRESSURE: _Next.WAIT,
    }


def test_a_permanent_failure_once_the_request_is_sent_parks_the_job(world):
    world.add_opportunity()
    world.crm.fail_next_apply = CRMError("Salesforce refused the update: INVALID_FIELD", code="INVALID_FIELD")
    world.daemon().run_once()
    [job] = world.daemon().store.list_jobs()
    assert (job.state, job.parked_from, job.attempts) == (JobState.PARKED, "sent", 1)
    assert world.provider.create_calls == 1


def test_backpressure_never_uses_up_the_attempts(world):
    world.add_opportunity()
    daemon = world.daemon()
    for _ in range(12):
        world.crm.fail_next_apply = CRMError("REQUEST_LIMIT_EXCEEDED", kind=ErrorKind.BACKPRESSURE, retry_after=1)
        daemon.run_once()
        world.clock.advance(seconds=10)
    [job] = daemon.store.list_jobs()
    assert (job.state, job.attempts) == (JobState.SENT, 0)
